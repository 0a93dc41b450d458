/**
 * What pkt-gen says when a port cannot be had, the same in-process and in netmapd: a
 * port's rings are bound by one user at a time (EBUSY), and a `netmap:IF` that is not
 * there names the way to make one (ENXIO).
 */
import { PvnetError } from "../base/errors.js";
import type { NetmapContext } from "../netmap/context.js";
import type { NetmapPort } from "../netmap/port.js";
import { parsePortName } from "../netmap/port-name.js";
import { isParseError } from "../wire/layout.js";

export function portBusy(name: string): PvnetError {
  return new PvnetError("EBUSY", `${name}: already in use (a port's rings are bound by one user at a time)`);
}

export function noSuchInterface(name: string): PvnetError {
  return new PvnetError(
    "ENXIO",
    `netmap:${name}: no such interface (make one with pvnet vale-ctl -n ${name}, which needs a running pvnet netmapd)`,
  );
}

/**
 * What a binding holds, as netmapd keys it: a VALE port or an interface by its name, a
 * pipe end by its pipe and side; monitors bind nothing. Null for a name that does not parse.
 */
export function bindingKey(spec: string): string | null {
  const n = parsePortName(spec);
  if (isParseError(n)) return null;
  if (n.flags.monitorTx || n.flags.monitorRx || n.flags.zcopyMon) return null;
  if (n.pipe !== null) return `${n.subsystem}:${n.port}${n.pipe.role === "master" ? "{" : "}"}${n.pipe.id}`;
  return n.isVale ? `${n.subsystem}:${n.port}` : `netmap:${n.port}`;
}

/** True for a copy or zero-copy monitor (`PORT/t`, `/r`, `/rt`, `/z`). */
export function isMonitorSpec(spec: string): boolean {
  const n = parsePortName(spec);
  return !isParseError(n) && (n.flags.monitorTx || n.flags.monitorRx || n.flags.zcopyMon);
}

/** Opens `spec` in an in-process context, refusing a second binding of what `bound` holds. */
export function openForPktGen(ctx: NetmapContext, spec: string, bound: Set<string>): NetmapPort {
  const key = bindingKey(spec);
  if (key !== null && bound.has(key)) throw portBusy(key);
  let port: NetmapPort;
  try {
    port = ctx.open(spec);
  } catch (e) {
    const n = parsePortName(spec);
    if (e instanceof PvnetError && e.code === "ENXIO" && !isParseError(n) && !n.isVale && n.pipe === null)
      throw noSuchInterface(n.port);
    throw e;
  }
  if (key !== null) bound.add(key);
  return port;
}
