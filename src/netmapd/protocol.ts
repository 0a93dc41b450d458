/**
 * netmapd's control protocol on its unix socket: one request per connection, as a line of
 * JSON; the answer is a stream of JSON lines, output first, then one line with the exit
 * status (and an error message, or a result). A client ends a running job by sending
 * `{"op":"stop"}` or by closing the connection.
 */

export type NetmapdRequest =
  | { op: "vale-ctl"; args: string[] }
  | { op: "pkt-gen"; args: string[]; forMs?: number }
  | { op: "stop" };

/** The last line of an answer: the exit status, with the error or the result. */
export interface NetmapdStatus {
  exit: number;
  err?: string;
  code?: string;
  result?: unknown;
}

export type NetmapdReply = { out: string } | NetmapdStatus;

/** Longest request line accepted (a request is a short argument list). */
export const MAX_REQUEST_LINE = 64 * 1024;

/** Validates a parsed request line; a string is the reason it is not one. */
export function checkRequest(v: unknown): NetmapdRequest | string {
  if (typeof v !== "object" || v === null) return "expected a JSON object";
  const r = v as Record<string, unknown>;
  if (r.op === "stop") return { op: "stop" };
  if (r.op !== "vale-ctl" && r.op !== "pkt-gen") return `op: expected "vale-ctl", "pkt-gen" or "stop"`;
  if (!Array.isArray(r.args) || !r.args.every((a) => typeof a === "string"))
    return "args: expected an array of strings";
  const args = r.args as string[];
  if (r.op === "vale-ctl") return { op: "vale-ctl", args };
  if (r.forMs !== undefined && (typeof r.forMs !== "number" || !(r.forMs > 0)))
    return "forMs: expected a positive number of milliseconds";
  return r.forMs === undefined ? { op: "pkt-gen", args } : { op: "pkt-gen", args, forMs: r.forMs };
}

/**
 * Splits a byte stream into lines; a line longer than `max` is an error (the connection is
 * then dropped). Returns false once over the limit.
 */
export class LineSplitter {
  #buf = "";
  readonly #max: number;

  constructor(max = MAX_REQUEST_LINE) {
    this.#max = max;
  }

  push(chunk: string, each: (line: string) => void): boolean {
    this.#buf += chunk;
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl < 0) break;
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      if (line.length > this.#max) return false;
      if (line.trim() !== "") each(line);
    }
    return this.#buf.length <= this.#max;
  }
}
