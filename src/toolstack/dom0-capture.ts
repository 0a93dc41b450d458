/**
 * Domain-0's half of `pvnet capture`: finds the port the host names on its switches, runs a
 * PortCapture on it, and reports the file in chunks (capture-proto.ts). A message it cannot
 * use is answered with a refusal, never thrown.
 */
import { type FilterTerm, parseFilter } from "../vale/capture-filter.js";
import { PortCapture } from "../vale/port-capture.js";
import type { ValeSwitch } from "../vale/switch.js";
import {
  CAPTURE_CHUNK_MAX,
  type CaptureReport,
  MSG_CAPTURE_ACK,
  MSG_CAPTURE_START,
  MSG_CAPTURE_STOP,
} from "./capture-proto.js";

/** Most live captures at once (each holds a staging buffer). */
export const MAX_LIVE_CAPTURES = 16;

/**
 * A port's index by the name `pvnet capture` takes: as the switch names it, or without the
 * `<bridge>:` an attached device's port (an uplink, `vale0:vxlan0`) carries.
 */
function portOn(sw: ValeSwitch, name: string): number {
  const i = sw.portIndex(name);
  return i >= 0 ? i : sw.portIndex(`${sw.name}:${name}`);
}

/** A switch and a port on it (-1: all of them), for a name as `pvnet capture` takes it. */
export function findCapturePort(
  switches: ReadonlyMap<string, ValeSwitch>,
  name: string,
): { sw: ValeSwitch; port: number } | string {
  const whole = switches.get(name);
  if (whole !== undefined) return { sw: whole, port: -1 };
  const colon = name.indexOf(":");
  if (colon > 0) {
    const sw = switches.get(name.slice(0, colon));
    if (sw === undefined) return `no bridge named ${name.slice(0, colon)}`;
    const port = portOn(sw, name.slice(colon + 1));
    return port < 0 ? `${sw.name} has no port ${name.slice(colon + 1)}` : { sw, port };
  }
  const found: { sw: ValeSwitch; port: number }[] = [];
  for (const sw of switches.values()) {
    const port = portOn(sw, name);
    if (port >= 0) found.push({ sw, port });
  }
  if (found.length > 1)
    return `${name} is on ${found.map((f) => f.sw.name).join(" and ")}: say which, as BRIDGE:${name}`;
  return (
    found[0] ??
    `no port named ${name} (ports: ${[...switches.values()]
      .flatMap((sw) => sw.ports().map((p) => p.name))
      .join(", ")}; or a bridge: ${[...switches.keys()].join(", ")})`
  );
}

export class Dom0Captures {
  readonly #switches: ReadonlyMap<string, ValeSwitch>;
  readonly #report: (r: CaptureReport) => void;
  readonly #live = new Map<number, PortCapture>();

  constructor(switches: ReadonlyMap<string, ValeSwitch>, report: (r: CaptureReport) => void) {
    this.#switches = switches;
    this.#report = report;
  }

  /** Handles `m` when it is a capture message (from the host); returns whether it was. */
  handle(m: unknown): boolean {
    if (typeof m !== "object" || m === null) return false;
    const o = m as Record<string, unknown>;
    if (o.t !== MSG_CAPTURE_START && o.t !== MSG_CAPTURE_ACK && o.t !== MSG_CAPTURE_STOP) return false;
    if (typeof o.id !== "number" || !Number.isInteger(o.id)) return true;
    const id = o.id;
    if (o.t === MSG_CAPTURE_ACK) this.#live.get(id)?.ack();
    else if (o.t === MSG_CAPTURE_STOP) this.#live.get(id)?.stop("stopped");
    else {
      const error = this.#start(id, o);
      if (error !== null) this.#report({ t: "capture-refused", id, error });
    }
    return true;
  }

  /** Starts capture `id`; returns why not, or null. */
  #start(id: number, o: Record<string, unknown>): string | null {
    const refuse = (error: string): string => error;
    if (this.#live.has(id)) return refuse(`capture ${id} runs already`);
    if (this.#live.size >= MAX_LIVE_CAPTURES) return refuse(`${MAX_LIVE_CAPTURES} captures run already`);
    if (typeof o.port !== "string" || o.port === "" || o.port.length > 128) return refuse("bad port name");
    if (o.format !== "pcap" && o.format !== "pcapng") return refuse("format must be pcap or pcapng");
    const count = o.count ?? null;
    if (count !== null && !(typeof count === "number" && Number.isInteger(count) && count >= 1))
      return refuse("count must be a positive integer");
    // The terms are checked the way the host made them: back through the parser's rules.
    const filter = checkTerms(o.filter);
    if (filter === null) return refuse("bad filter terms");
    const at = findCapturePort(this.#switches, o.port);
    if (typeof at === "string") return refuse(at);
    const cap = new PortCapture(at.sw, {
      format: o.format,
      port: at.port,
      count: count ?? undefined,
      filter,
      bufferBytes: CAPTURE_CHUNK_MAX,
      emit: (bytes, frames) => this.#report({ t: "capture-data", id, bytes, frames }),
      end: (s, reason) => {
        this.#live.delete(id);
        this.#report({ t: "capture-end", id, captured: s.captured, dropped: s.dropped, reason });
      },
    });
    this.#live.set(id, cap);
    this.#report({
      t: "capture-started",
      id,
      bridge: at.sw.name,
      port: at.port < 0 ? null : (at.sw.portName(at.port) ?? null),
    });
    cap.start();
    return null;
  }

  /** Ends every capture (the host is stopping). */
  stopAll(reason: string): void {
    for (const c of [...this.#live.values()]) c.stop(reason);
  }
}

/** Terms from a message, accepted only if they are what parseFilter would make of their text. */
function checkTerms(v: unknown): FilterTerm[] | null {
  if (!Array.isArray(v) || v.length > 64) return null;
  const text: string[] = [];
  for (const t of v as unknown[]) {
    if (typeof t !== "object" || t === null) return null;
    const o = t as Record<string, unknown>;
    const dir = o.dir === "src" || o.dir === "dst" || o.dir === "host" ? o.dir : null;
    if (o.k === "ether" && dir !== null && typeof o.mac === "string") text.push(`ether ${dir} ${o.mac}`);
    else if (o.k === "ip" && dir !== null && typeof o.addr === "string") text.push(`ip ${dir} ${o.addr}`);
    else if (o.k === "proto" && typeof o.proto === "string") text.push(o.proto);
    else if (o.k === "port" && dir !== null && typeof o.port === "number" && typeof o.proto === "string")
      text.push(`${o.proto === "any" ? "" : o.proto} ${dir === "host" ? "" : dir} port ${o.port}`);
    else return null;
  }
  const terms = parseFilter(text.join(" and "));
  return typeof terms === "string" ? null : terms;
}
