/**
 * netmapd's unix socket (protocol.ts): one request per connection. vale-ctl requests are
 * answered at once; a pkt-gen job streams its lines until it ends, the client sends
 * `{"op":"stop"}`, or the client goes away (which stops the job). A malformed request, an
 * over-long line or a failing job gets an error line and ends that connection only.
 */
import { createServer, type Server, type Socket } from "node:net";
import { PvnetError } from "../base/errors.js";
import { RateLog } from "../base/ratelog.js";
import { listenUnix } from "../base/unix-listen.js";
import type { Netmapd } from "./daemon.js";
import { runPktGenJob } from "./job.js";
import { checkRequest, LineSplitter, type NetmapdReply, type NetmapdRequest } from "./protocol.js";
import { parseValeCtlArgs } from "./vale-ctl.js";

export interface NetmapdServerOptions {
  /** Problems (bad requests, failing jobs), rate-limited. */
  log?: (line: string) => void;
  /** Activity, one line per event: each vale-ctl request, each job's start and end. */
  info?: (line: string) => void;
}

/** Activity lines allowed per second and kind before the log says how many it skipped. */
const INFO_BURST = 50;

export class NetmapdServer {
  readonly path: string;
  readonly #server: Server;
  /** Open connections, each with what stops its job. */
  readonly #conns = new Map<Socket, AbortController>();
  readonly #jobs = new Set<Promise<void>>();
  readonly #log: RateLog;
  readonly #info: RateLog | null;
  #closed = false;
  #nextClient = 1;

  private constructor(path: string, server: Server, log: RateLog, info: RateLog | null) {
    this.path = path;
    this.#server = server;
    this.#log = log;
    this.#info = info;
  }

  static async listen(d: Netmapd, path: string, opts: NetmapdServerOptions = {}): Promise<NetmapdServer> {
    const server = createServer();
    const self = new NetmapdServer(
      path,
      server,
      new RateLog(opts.log === undefined ? {} : { sink: opts.log }),
      opts.info === undefined ? null : new RateLog({ sink: opts.info, burst: INFO_BURST, windowMs: 1000 }),
    );
    server.on("connection", (s) => self.#accept(d, s));
    await listenUnix(server, path);
    server.on("error", (e) => self.#log.log("server", `netmapd socket ${path}: ${e.message}`));
    return self;
  }

  /** Stops listening, stops every running job (their clients get the final lines) and closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const stop of this.#conns.values()) stop.abort();
    await Promise.allSettled([...this.#jobs]);
    for (const s of this.#conns.keys()) s.destroy();
    await closed;
  }

  #accept(d: Netmapd, s: Socket): void {
    if (this.#closed) {
      s.destroy();
      return;
    }
    const stop = new AbortController();
    this.#conns.set(s, stop);
    const client = this.#nextClient++;
    s.setEncoding("utf8");
    const lines = new LineSplitter();
    let started = false;
    const send = (r: NetmapdReply): void => {
      if (!s.destroyed && s.writable) s.write(`${JSON.stringify(r)}\n`);
    };
    const fail = (why: string, code = "EINVAL"): void => {
      send({ exit: 1, err: why, code });
      s.end();
    };
    s.on("data", (chunk: string) => {
      const ok = lines.push(chunk, (line) => {
        let req: NetmapdRequest | string;
        try {
          req = checkRequest(JSON.parse(line));
        } catch (e) {
          req = `not JSON (${e instanceof Error ? e.message : String(e)})`;
        }
        if (typeof req === "string") {
          this.#log.log("request", `netmapd: bad request: ${req}`);
          stop.abort();
          fail(`bad request: ${req}`);
          return;
        }
        if (req.op === "stop") {
          stop.abort();
          return;
        }
        if (started) {
          fail("one request per connection");
          return;
        }
        started = true;
        const job = this.#serve(d, req, send, stop.signal, client).then(() => {
          s.end();
        });
        this.#jobs.add(job);
        void job.finally(() => this.#jobs.delete(job));
      });
      if (!ok) {
        stop.abort();
        fail("request line too long");
      }
    });
    s.on("error", () => {}); // a reset from the client: 'close' follows
    s.on("close", () => {
      stop.abort();
      this.#conns.delete(s);
    });
  }

  async #serve(
    d: Netmapd,
    req: Exclude<NetmapdRequest, { op: "stop" }>,
    send: (r: NetmapdReply) => void,
    signal: AbortSignal,
    client: number,
  ): Promise<void> {
    const what = `client ${client}: ${req.op} ${req.args.join(" ")}`;
    const info = (kind: string, line: string): void => {
      this.#info?.log(kind, `netmapd: ${line}`);
    };
    try {
      if (req.op === "vale-ctl") {
        const cmd = parseValeCtlArgs(req.args);
        if ("error" in cmd) throw new PvnetError("EINVAL", cmd.error);
        const lines = d.valeCtl(cmd);
        info("vale-ctl", `${what}: ok`);
        for (const out of lines) send({ out });
        send({ exit: 0 });
        return;
      }
      info("job", `${what}: started`);
      const result = await runPktGenJob(d, req.args, {
        out: (out) => send({ out }),
        signal,
        stopAfterMs: req.forMs,
      });
      info("job", `${what}: ended, ${result.packets} packets in ${result.seconds.toFixed(2)} s`);
      // A job cut short by the daemon's own shutdown did not finish: its client must not exit 0.
      if (this.#closed)
        send({
          exit: 1,
          err: `netmapd at ${this.path} shut down (the job was stopped)`,
          code: "ESHUTDOWN",
          result,
        });
      else send({ exit: 0, result });
    } catch (e) {
      const err = e instanceof Error ? e.message : String(e);
      const code = e instanceof PvnetError ? e.code : "EBUG";
      if (code === "EBUG") this.#log.log("job", `netmapd: ${req.op} failed: ${err}`);
      info(req.op, `${what}: failed: ${err}`);
      send({ exit: 1, err, code });
    }
  }
}
