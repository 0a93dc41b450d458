/**
 * `pvnet capture` on the control socket. The request is one JSON line like the others,
 * `{"op":"capture","port":"vif1.0","format":"pcap","count":null,"filter":"udp port 7"}`;
 * the reply line is `{"ok":true,"port":...,"bridge":...,"format":...}` (or an error, and
 * the connection goes back to requests). After an ok reply the connection carries records,
 * each a type byte and a u32 little-endian length, then that many bytes:
 *
 *   'D'  bytes of the capture file, in order (the first holds its header)
 *   'E'  the end: JSON `{"captured":N,"dropped":M,"reason":"..."}`, then the host closes
 *
 * Any line the client sends meanwhile (e.g. `stop`) ends the capture; so does the client
 * going away. Flow control: a chunk is acknowledged to Domain-0 once the socket has taken
 * it (at once while less than CAPTURE_SOCKET_HIGH bytes wait, else on drain), so a slow
 * reader makes Domain-0 drop (and count) frames rather than the host buffer them.
 */
import type { Socket } from "node:net";
import { FILTER_MAX, type FilterTerm, parseFilter } from "../vale/capture-filter.js";
import {
  asCaptureReport,
  type CaptureReport,
  MSG_CAPTURE_ACK,
  MSG_CAPTURE_START,
  MSG_CAPTURE_STOP,
} from "./capture-proto.js";
import type { Host } from "./host.js";

export const CAPTURE_REC_DATA = 0x44; // 'D'
export const CAPTURE_REC_END = 0x45; // 'E'
export const CAPTURE_REC_HDR = 5;
/** Bytes the socket may hold unsent before chunks stop being acknowledged. */
export const CAPTURE_SOCKET_HIGH = 1 << 20;
/** How long Domain-0 has to answer a start. */
const START_MS = 5000;

export interface CaptureRequest {
  readonly op: "capture";
  readonly port: string;
  readonly format: "pcap" | "pcapng";
  readonly count: number | null;
  readonly filter: readonly FilterTerm[];
}

/** null when `line` is not a capture request; else the request, or what is wrong with it. */
export function parseCaptureRequest(line: string): CaptureRequest | string | null {
  if (!line.includes('"capture"')) return null;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null || (v as { op?: unknown }).op !== "capture") return null;
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !["op", "port", "format", "count", "filter"].includes(k));
  if (extra !== undefined) return `bad request: capture: unknown field ${JSON.stringify(extra)}`;
  if (typeof o.port !== "string" || o.port === "" || o.port.length > 128)
    return `bad request: capture: "port" must be a port's name (vif1.0, BRIDGE:PORT) or a bridge's`;
  const format = o.format ?? "pcap";
  if (format !== "pcap" && format !== "pcapng")
    return `bad request: capture: "format" must be pcap or pcapng`;
  const count = o.count ?? null;
  if (
    count !== null &&
    !(typeof count === "number" && Number.isInteger(count) && count >= 1 && count <= 2 ** 31)
  )
    return `bad request: capture: "count" must be a positive integer`;
  const text = o.filter ?? "";
  if (typeof text !== "string" || text.length > FILTER_MAX)
    return `bad request: capture: "filter" must be a string of at most ${FILTER_MAX} characters`;
  const filter = parseFilter(text);
  if (typeof filter === "string") return filter;
  return { op: "capture", port: o.port, format, count, filter };
}

let nextId = 1;

/** Per host, one report listener for all its captures, by id. */
const sessions = new WeakMap<Host, Map<number, (r: CaptureReport) => void>>();

function subscribe(host: Host, id: number, fn: (r: CaptureReport) => void): () => void {
  let byId = sessions.get(host);
  if (byId === undefined) {
    const m = new Map<number, (r: CaptureReport) => void>();
    byId = m;
    sessions.set(host, m);
    host.machine.on("report", (domid: number, data: unknown) => {
      if (domid !== 0) return;
      const r = asCaptureReport(data);
      if (r !== null) m.get(r.id)?.(r);
    });
  }
  byId.set(id, fn);
  const m = byId;
  return () => m.delete(id);
}

function record(type: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(CAPTURE_REC_HDR + payload.length);
  b[0] = type;
  b.writeUInt32LE(payload.length, 1);
  b.set(payload, CAPTURE_REC_HDR);
  return b;
}

/**
 * Serves one capture on `s` (its line reader already detached; `rest` is what the client
 * sent after the request line). Resolves when the capture has ended; with an error reply,
 * resolves false and the caller goes on reading requests.
 */
export function serveCapture(host: Host, s: Socket, req: CaptureRequest, rest: string): Promise<boolean> {
  const id = nextId++;
  const machine = host.machine;
  return new Promise<boolean>((resolve) => {
    let state: "starting" | "running" | "done" = "starting";
    const timer = setTimeout(
      () => finish({ error: "Domain-0 did not answer the capture request" }),
      START_MS,
    );
    /** The client asked to stop before Domain-0 had started: stop as soon as it has. */
    let stopAsked = rest.trim() !== "";
    const stop = (): void => {
      stopAsked = true;
      if (state === "running") machine.post(0, { t: MSG_CAPTURE_STOP, id });
    };
    const onInput = (): void => stop();
    const onClose = (): void => {
      stop();
      if (state === "starting") machine.post(0, { t: MSG_CAPTURE_STOP, id });
      finish(null);
    };
    const finish = (
      err: { error: string } | null,
      end?: Extract<CaptureReport, { t: "capture-end" }>,
    ): void => {
      if (state === "done") return;
      const wasStarting = state === "starting";
      state = "done";
      clearTimeout(timer);
      unsubscribe();
      s.off("data", onInput);
      s.off("close", onClose);
      if (err !== null && wasStarting) {
        if (!s.destroyed) s.write(`${JSON.stringify({ ok: false, error: err.error })}\n`);
        resolve(false);
        return;
      }
      if (end !== undefined && !s.destroyed) {
        const json = JSON.stringify({ captured: end.captured, dropped: end.dropped, reason: end.reason });
        s.end(record(CAPTURE_REC_END, Buffer.from(json)));
      } else s.destroy();
      resolve(true);
    };
    const onCapture = (r: CaptureReport): void => {
      switch (r.t) {
        case "capture-refused":
          finish({ error: r.error });
          return;
        case "capture-started":
          if (state !== "starting") return;
          state = "running";
          clearTimeout(timer);
          if (s.destroyed) {
            stop();
            return;
          }
          s.write(
            `${JSON.stringify({ ok: true, port: r.port ?? r.bridge, bridge: r.bridge, format: req.format })}\n`,
          );
          // The client's lines from now on only mean "stop".
          if (stopAsked) stop();
          return;
        case "capture-data": {
          if (state !== "running" || s.destroyed) return;
          const fits = s.write(record(CAPTURE_REC_DATA, r.bytes));
          if (fits || s.writableLength < CAPTURE_SOCKET_HIGH) machine.post(0, { t: MSG_CAPTURE_ACK, id });
          else s.once("drain", () => state === "running" && machine.post(0, { t: MSG_CAPTURE_ACK, id }));
          return;
        }
        case "capture-end":
          finish(null, r);
          return;
      }
    };
    const unsubscribe = subscribe(host, id, (r) => onCapture(r));
    s.on("data", onInput);
    s.on("close", onClose);
    machine.post(0, {
      t: MSG_CAPTURE_START,
      id,
      port: req.port,
      format: req.format,
      count: req.count,
      filter: req.filter,
    });
  });
}
