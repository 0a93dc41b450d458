/**
 * The client side of a running host's control socket (src/toolstack/control.ts): where the
 * socket is unless told, and one request, one reply.
 */
import { connect } from "node:net";
import { PvnetError } from "../base/errors.js";
import { defaultRunDir } from "../netmapd/socket-path.js";

/** Where `pvnet up` listens for commands unless told: next to its xenstored socket. */
export function defaultControlSocket(): string {
  return `${defaultRunDir()}/control.sock`;
}

/** How long a reply may take (backend-restart waits up to 10 s for Domain-0). */
const REPLY_MS = 30_000;

/**
 * Sends one request and resolves with the reply's fields. A reply `{"ok":false}` rejects
 * with its error text; no socket (or nobody answering) rejects with "no pvnet host is running".
 */
export function controlRequest(path: string, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = "";
    let settled = false;
    const done = (e: Error | null, v?: Record<string, unknown>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      if (e !== null) reject(e);
      else resolve(v!);
    };
    const timer = setTimeout(
      () =>
        done(new PvnetError("ETIMEDOUT", `no reply from the host at ${path} within ${REPLY_MS / 1000} s`)),
      REPLY_MS,
    );
    s.setEncoding("utf8");
    s.on("connect", () => s.write(`${JSON.stringify(req)}\n`));
    s.on("error", (e: NodeJS.ErrnoException) => {
      const code = e.code ?? "EIO";
      done(
        code === "ENOENT" || code === "ECONNREFUSED"
          ? new PvnetError("ESRCH", `no pvnet host is running (no control socket at ${path})`)
          : new PvnetError(code, `cannot reach the host at ${path}: ${e.message}`),
      );
    });
    s.on("data", (c: string) => {
      buf += c;
      const nl = buf.indexOf("\n");
      if (nl < 0) return;
      let reply: unknown;
      try {
        reply = JSON.parse(buf.slice(0, nl));
      } catch {
        return done(new PvnetError("EPROTO", `the host at ${path} sent a reply that is not JSON`));
      }
      const r = reply as Record<string, unknown>;
      if (r.ok === true) return done(null, r);
      done(new PvnetError("EREMOTE", typeof r.error === "string" ? r.error : "the host refused the request"));
    });
    s.on("close", () =>
      done(new PvnetError("EPROTO", `the host at ${path} closed the connection without a reply`)),
    );
  });
}
