/**
 * The messages of a live capture (`pvnet capture`) between the host (main thread) and
 * Domain-0, where the switches are. The host starts, acknowledges and stops; Domain-0
 * answers once, sends the file in chunks, and ends. Both sides check every message.
 */
import type { FilterTerm } from "../vale/capture-filter.js";

/** Host to Domain-0: tap PORT (a port name, BRIDGE:PORT, or a bridge for all its ports). */
export const MSG_CAPTURE_START = "host-capture-start";
/** Host to Domain-0: a chunk has been written on; one more may come. */
export const MSG_CAPTURE_ACK = "host-capture-ack";
/** Host to Domain-0: stop (the reader said so or went away). */
export const MSG_CAPTURE_STOP = "host-capture-stop";

export interface CaptureStart {
  readonly t: typeof MSG_CAPTURE_START;
  readonly id: number;
  readonly port: string;
  readonly format: "pcap" | "pcapng";
  readonly count: number | null;
  readonly filter: readonly FilterTerm[];
}

/** Domain-0's reports about a capture. */
export type CaptureReport =
  | { t: "capture-started"; id: number; bridge: string; port: string | null }
  | { t: "capture-refused"; id: number; error: string }
  | { t: "capture-data"; id: number; bytes: Uint8Array; frames: number }
  | { t: "capture-end"; id: number; captured: number; dropped: number; reason: string };

/** Longest chunk Domain-0 sends: its staging buffer's size. */
export const CAPTURE_CHUNK_MAX = 512 << 10;

/** `r` as a CaptureReport when it is a well-formed one, else null. */
export function asCaptureReport(r: unknown): CaptureReport | null {
  if (typeof r !== "object" || r === null) return null;
  const o = r as Record<string, unknown>;
  if (typeof o.id !== "number" || !Number.isInteger(o.id)) return null;
  const count = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v) && v >= 0;
  switch (o.t) {
    case "capture-started":
      return typeof o.bridge === "string" && (o.port === null || typeof o.port === "string")
        ? (o as CaptureReport)
        : null;
    case "capture-refused":
      return typeof o.error === "string" ? (o as CaptureReport) : null;
    case "capture-data":
      return o.bytes instanceof Uint8Array && o.bytes.length <= CAPTURE_CHUNK_MAX && count(o.frames)
        ? (o as CaptureReport)
        : null;
    case "capture-end":
      return count(o.captured) && count(o.dropped) && typeof o.reason === "string"
        ? (o as CaptureReport)
        : null;
    default:
      return null;
  }
}
