/**
 * The client end of the unix-socket transport: how dom0 tools reach the daemon, and where
 * libxenstore looks for it by default.
 */
import { connect, type Socket } from "node:net";
import { PvnetError } from "../../base/errors.js";
import type { XsMsgRepr } from "../../wire/xen/xs-wire.js";
import { XsFramer } from "./framer.js";
import type { XsTransport } from "./xs-transport.js";

export type { XsTransport } from "./xs-transport.js";

/**
 * The socket libxenstore would use: $XENSTORED_PATH, else
 * ${XENSTORED_RUNDIR:-/var/run/xenstored}/socket.
 */
export function defaultXsSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XENSTORED_PATH) return env.XENSTORED_PATH;
  return `${env.XENSTORED_RUNDIR || "/var/run/xenstored"}/socket`;
}

class SocketTransport implements XsTransport {
  readonly #s: Socket;
  readonly #framer = new XsFramer();
  #onMessage: (m: XsMsgRepr) => void = () => {};
  #onClose: (reason: string) => void = () => {};
  #reason = "connection closed";

  constructor(s: Socket) {
    this.#s = s;
    s.on("data", (chunk: Buffer) => {
      const ok = this.#framer.push(chunk, (m) => {
        this.#onMessage(m);
        return !s.destroyed;
      });
      if (!ok) {
        this.#reason = `protocol error: ${this.#framer.error}`;
        s.destroy();
      }
    });
    s.on("error", (e) => {
      this.#reason = `socket error: ${e.message}`;
    });
    s.on("close", () => this.#onClose(this.#reason));
  }

  send(msg: Uint8Array): void {
    this.#s.write(msg);
  }
  onMessage(cb: (m: XsMsgRepr) => void): void {
    this.#onMessage = cb;
  }
  onClose(cb: (reason: string) => void): void {
    this.#onClose = cb;
  }
  close(): void {
    this.#s.destroy();
  }
}

/** Connects to the daemon's socket; a refused or missing socket is a PvnetError (EIO). */
export function connectXsSocket(path: string = defaultXsSocketPath()): Promise<XsTransport> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const fail = (e: Error): void =>
      reject(new PvnetError("EIO", `Cannot connect to xenstored at ${path}: ${e.message}`, { path }));
    s.once("error", fail);
    s.once("connect", () => {
      s.off("error", fail);
      resolve(new SocketTransport(s));
    });
  });
}
