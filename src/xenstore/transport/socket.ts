/**
 * The dom0 unix-socket transport of the xenstore daemon: what xenstore-utils (libxenstore)
 * connect to when XENSTORED_PATH names a socket. Every accepted connection is a privileged
 * Domain-0 connection, as with C xenstored's socket.
 *
 * Each socket is isolated: a bad header, an exception in the daemon or a reader too slow to
 * take its replies closes that socket only, with a logged reason, and never throws out of an
 * event handler. The daemon is reached only through `connect`, so tests can plug in a fake.
 */
import { createServer, type Server, type Socket } from "node:net";
import { RateLog } from "../../base/ratelog.js";
import { listenUnix } from "../../base/unix-listen.js";
import type { XsConnection, XsConnOptions, XsSink } from "../daemon.js";
import { XsFramer } from "./framer.js";

export type { XsConnection, XsConnOptions, XsSink } from "../daemon.js";

/** What the transport needs from Xenstored (an interface, so tests can plug in a fake). */
export interface XsConnector {
  connect(opts: XsConnOptions, sink: XsSink): XsConnection;
}

/** Default bound on bytes queued towards one client before it counts as a slow reader. */
export const DEFAULT_MAX_WRITE_QUEUE = 1 << 20;

export interface XsSocketServerOptions {
  /** Bytes queued towards one client before `send` reports false (default 1 MiB). */
  maxWriteQueue?: number;
  log?: (line: string) => void;
}

export class XsSocketServer {
  readonly path: string;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #log: RateLog;
  #closed = false;

  private constructor(path: string, server: Server, log: RateLog) {
    this.path = path;
    this.#server = server;
    this.#log = log;
  }

  /**
   * Listens on `path`, removing a stale socket left by a previous daemon. Refuses a path
   * that does not fit sun_path (EINVAL) or that exists and is not a socket (EEXIST).
   */
  static async listen(
    daemon: XsConnector,
    path: string,
    opts: XsSocketServerOptions = {},
  ): Promise<XsSocketServer> {
    const log = new RateLog(opts.log === undefined ? {} : { sink: opts.log });
    const maxQueue = opts.maxWriteQueue ?? DEFAULT_MAX_WRITE_QUEUE;
    const server = createServer();
    const self = new XsSocketServer(path, server, log);
    server.on("connection", (s) => self.#accept(daemon, s, maxQueue));
    await listenUnix(server, path);
    server.on("error", (e) => log.log("server", `xenstored socket ${path}: ${e.message}`));
    return self;
  }

  /** Open client connections. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Stops listening, drops every client (their connections close) and removes the socket file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(daemon: XsConnector, s: Socket, maxQueue: number): void {
    if (this.#closed) {
      s.destroy();
      return;
    }
    this.#sockets.add(s);
    const framer = new XsFramer();
    let conn: XsConnection | undefined;
    let dead = false;
    const drop = (reason: string): void => {
      if (dead) return;
      dead = true;
      this.#log.log(
        reason.split(":")[0] ?? reason,
        `xenstored: closing connection ${conn?.id ?? "?"}: ${reason}`,
      );
      s.destroy();
    };
    const sink: XsSink = {
      send: (msg) => {
        if (dead || s.destroyed) return false;
        // The socket keeps `msg` until flushed: the daemon hands over a fresh buffer per message.
        s.write(msg);
        return s.writableLength <= maxQueue;
      },
      close: (reason) => drop(reason),
    };
    try {
      conn = daemon.connect({ domid: 0, privileged: true }, sink);
    } catch (e) {
      drop(`connect failed: ${errText(e)}`);
      return;
    }
    const c = conn;
    s.on("data", (chunk: Buffer) => {
      if (dead) return;
      const ok = framer.push(chunk, (m) => {
        try {
          c.handle(m.type, m.reqId, m.txId, m.payload);
        } catch (e) {
          drop(`daemon error: ${errText(e)}`);
        }
        return !dead;
      });
      if (!ok) drop(`protocol error: ${framer.error}`);
    });
    s.on("error", () => {
      // A reset or EPIPE from the client: 'close' follows and cleans up.
    });
    s.on("close", () => {
      dead = true;
      this.#sockets.delete(s);
      try {
        c.close();
      } catch (e) {
        this.#log.log("close", `xenstored: connection ${c.id} close failed: ${errText(e)}`);
      }
    });
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
