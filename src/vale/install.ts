/**
 * Makes `valeX:PORT` names open VALE ports in a netmap context: switches and ports are
 * created on first open, as netmap creates ephemeral VALE ports.
 */
import { PvnetError } from "../base/errors.js";
import type { NetmapContext } from "../netmap/context.js";
import { parsePortName } from "../netmap/port-name.js";
import { isParseError } from "../wire/layout.js";
import { attachDevice, type ValeBwrap } from "./bwrap.js";
import { ValePort } from "./port.js";
import { ValeSwitch } from "./switch.js";

/** Largest spare pool a VALE port gets for extra buffers (128 MiB of 2 KiB buffers). */
export const MAX_SPARE_BUFS = 65536;

export interface ValeRegistry {
  switches: Map<string, ValeSwitch>;
  ports: Map<string, ValePort>;
  /** Devices attached with `vale-ctl -a` / `-h`, by `SW:IF` (and `SW:IF^`). */
  bwraps: Map<string, ValeBwrap>;
}

export function installVale(ctx: NetmapContext, slots = 1024): ValeRegistry {
  const reg: ValeRegistry = { switches: new Map(), ports: new Map(), bwraps: new Map() };
  ctx.addSubsystem(
    (sub) => sub.startsWith("vale"),
    (name, _ctx, opts) => {
      if (name.mode !== "ALL_NIC" && name.mode !== "ONE_NIC")
        throw new PvnetError("EINVAL", `${name.spec}: a VALE port has no host rings`);
      const sw = switchFor(reg, name.subsystem);
      const key = `${name.subsystem}:${name.port}`;
      let port = reg.ports.get(key);
      if (port === undefined) {
        // Each port has a region of its own, so its spare pool for extra buffers is sized
        // now: one ring's worth, or what the first open asks for (up to MAX_SPARE_BUFS).
        const n = name.conf.txSlots ?? slots;
        port = new ValePort(sw, key, n, Math.min(Math.max(opts.extraBufs ?? 0, n), MAX_SPARE_BUFS));
        reg.ports.set(key, port);
      }
      return port.open(opts.extraBufs);
    },
    (name) => reg.ports.get(`${name.subsystem}:${name.port}`),
  );
  return reg;
}

function switchFor(reg: ValeRegistry, name: string): ValeSwitch {
  let sw = reg.switches.get(name);
  if (sw === undefined) {
    sw = new ValeSwitch(name);
    reg.switches.set(name, sw);
  }
  return sw;
}

/**
 * `vale-ctl -a valeX:IF` (`host`: `-h`, NIC and host stack): attaches the netmap device IF
 * of `ctx` to switch valeX, created if needed. Returns the switch ports made.
 */
export function valeAttach(reg: ValeRegistry, ctx: NetmapContext, spec: string, host = false): ValeBwrap[] {
  const name = parsePortName(spec);
  if (isParseError(name)) throw new PvnetError("EINVAL", name.error);
  if (!name.isVale) throw new PvnetError("EINVAL", `${spec}: expected valeX:IF`);
  const dev = ctx.device(name.port);
  if (dev === undefined) throw new PvnetError("ENXIO", `No netmap device "${name.port}" to attach`);
  const key = `${name.subsystem}:${name.port}`;
  if (reg.bwraps.has(key) || reg.ports.has(key)) throw new PvnetError("EBUSY", `${key} is already a port`);
  const got = attachDevice(switchFor(reg, name.subsystem), dev, host);
  reg.bwraps.set(key, got.nic);
  if (got.host !== null) reg.bwraps.set(`${key}^`, got.host);
  return got.host === null ? [got.nic] : [got.nic, got.host];
}

/** `vale-ctl -d valeX:IF`: detaches the device (and its host port). */
export function valeDetach(reg: ValeRegistry, spec: string): boolean {
  const key = spec.replace(/\^$/, "");
  const nic = reg.bwraps.get(key);
  if (nic === undefined) return false;
  nic.detach();
  reg.bwraps.delete(key);
  reg.bwraps.get(`${key}^`)?.detach();
  reg.bwraps.delete(`${key}^`);
  return true;
}
