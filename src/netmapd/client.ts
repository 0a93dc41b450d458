/**
 * A netmapd client: sends one request and streams the answer's output lines; resolves with
 * the final status line. `stop()` asks a running job to end (its final lines still come).
 */
import { connect } from "node:net";
import { PvnetError } from "../base/errors.js";
import { LineSplitter, type NetmapdReply, type NetmapdRequest, type NetmapdStatus } from "./protocol.js";

export interface NetmapdCall {
  readonly done: Promise<NetmapdStatus>;
  stop(): void;
}

/** Replies can be long (a job's result); the guard is only against a runaway daemon. */
const MAX_REPLY_LINE = 16 * 1024 * 1024;

/**
 * Connects to `path`; rejects with ECONNREFUSED/ENOENT (code kept) when no daemon listens,
 * so callers can tell "no netmapd" from a failing request.
 */
export async function callNetmapd(
  path: string,
  req: Exclude<NetmapdRequest, { op: "stop" }>,
  out: (line: string) => void,
): Promise<NetmapdCall> {
  const s = connect(path);
  s.setEncoding("utf8");
  await new Promise<void>((resolve, reject) => {
    s.once("connect", resolve);
    s.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new PvnetError(
          e.code ?? "ECONNREFUSED",
          `no netmapd at ${path} (${why(e)}; start one with pvnet netmapd, or a host with pvnet up)`,
        ),
      ),
    );
  });
  s.write(`${JSON.stringify(req)}\n`);
  const done = new Promise<NetmapdStatus>((resolve, reject) => {
    const lines = new LineSplitter(MAX_REPLY_LINE);
    let final: NetmapdStatus | null = null;
    s.on("data", (chunk: string) => {
      lines.push(chunk, (line) => {
        const r = JSON.parse(line) as NetmapdReply;
        if ("out" in r) out(r.out);
        else final = r;
      });
    });
    s.on("error", (e) => reject(new PvnetError("EIO", `netmapd at ${path} went away (${e.message})`)));
    s.on("close", () => {
      if (final !== null) resolve(final);
      else reject(new PvnetError("EIO", `netmapd at ${path} went away before the request ended`));
    });
  });
  return {
    done,
    stop: () => {
      if (!s.destroyed) s.write(`${JSON.stringify({ op: "stop" })}\n`);
    },
  };
}

function why(e: NodeJS.ErrnoException): string {
  if (e.code === "ENOENT") return "no socket there";
  if (e.code === "ECONNREFUSED") return "a stale socket: nothing answers";
  if (e.code === "EACCES") return "permission denied";
  return e.code ?? e.message;
}
