/**
 * `pvnet up --web`: an HTTP server for the page (web/ in the package, and uPlot's files)
 * and a WebSocket that pushes the host's state to every open page at a fixed rate. Each
 * tick samples what the host already keeps in shared memory (states, counters, ring
 * indices) and what the xenstore mirror saw change; nothing hooks the datapath. A page
 * that cannot keep up (its socket's unsent bytes past a bound) is dropped, never buffered.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { type WebSocket, WebSocketServer } from "ws";
import { PvnetError } from "../base/errors.js";
import type { Host } from "../toolstack/host.js";
import type { UplinkCounter } from "../uplink/counters.js";
import type { UplinkStatus } from "../uplink/status.js";
import type { WebAddr } from "./addr.js";
import { sampleVifRings } from "./rings.js";
import type { XsMirror } from "./xs-mirror.js";

/** Samples per second pushed to each page. */
export const WEB_RATE_HZ = 4;
/** Unsent bytes a page may have queued before it is dropped (a few seconds of samples). */
export const WEB_MAX_BUFFERED = 4 << 20;
/** Pages served at once; more are refused. */
export const WEB_MAX_CLIENTS = 32;

/** The page's files: ours from web/, the plot library's from its package. */
function assets(): Map<string, { file: string; type: string }> {
  const here = [new URL("../../../web/", import.meta.url), new URL("../../web/", import.meta.url)];
  const dir = here.map((u) => fileURLToPath(u)).find((d) => existsSync(`${d}index.html`));
  if (dir === undefined)
    throw new PvnetError("ENOENT", "the web view's page (web/index.html) is not installed");
  const req = createRequire(import.meta.url);
  return new Map([
    ["/", { file: `${dir}index.html`, type: "text/html; charset=utf-8" }],
    ["/app.js", { file: `${dir}app.js`, type: "text/javascript; charset=utf-8" }],
    ["/app.css", { file: `${dir}app.css`, type: "text/css; charset=utf-8" }],
    [
      "/uPlot.js",
      { file: req.resolve("uplot/dist/uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
    ],
    ["/uPlot.css", { file: req.resolve("uplot/dist/uPlot.min.css"), type: "text/css; charset=utf-8" }],
  ]);
}

export class WebView {
  readonly url: string;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  #host: Host | null = null;
  #xs: XsMirror | null = null;
  #timer: NodeJS.Timeout | undefined;
  readonly #t0 = performance.now();
  #lastSeq = 0;
  /** Pages dropped for not keeping up. */
  dropped = 0;

  private constructor(http: Server, wss: WebSocketServer, url: string) {
    this.#http = http;
    this.#wss = wss;
    this.url = url;
  }

  /**
   * Listens on `addr` (taken before the host boots, so a port in use stops `pvnet up` at
   * once); pages that connect before `serve` are told the host is booting.
   */
  static async listen(addr: WebAddr): Promise<WebView> {
    const files = assets();
    const cache = new Map<string, Buffer>();
    // Bound to a loopback address, the page answers only to loopback names: a web site
    // that rebinds its own name to 127.0.0.1 cannot read the host through a browser.
    let allowed: (host: string | undefined) => boolean = () => true;
    const http = createServer((req, res) => {
      if (!allowed(req.headers.host))
        res.writeHead(403, { "content-type": "text/plain" }).end("forbidden host\n");
      else serveFile(req, res, files, cache);
    });
    const wss = new WebSocketServer({
      server: http,
      path: "/live",
      maxPayload: 1024,
      verifyClient: (info: { req: IncomingMessage }) => allowed(info.req.headers.host),
    });
    // ws repeats the HTTP server's errors; the listen below reports the one that matters.
    wss.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      const failed = (e: NodeJS.ErrnoException): void => {
        wss.close();
        reject(new PvnetError(e.code ?? "EIO", `--web ${addr.host}:${addr.port}: ${e.message}`));
      };
      http.once("error", failed);
      http.listen(addr.port, addr.host, () => {
        http.off("error", failed);
        resolve();
      });
    });
    const a = http.address() as AddressInfo;
    const shown = a.family === "IPv6" ? `[${a.address}]` : a.address;
    if (isLoopback(a.address)) {
      const names = new Set([
        `${shown}:${a.port}`,
        `localhost:${a.port}`,
        `127.0.0.1:${a.port}`,
        `[::1]:${a.port}`,
      ]);
      allowed = (host) => host !== undefined && names.has(host.toLowerCase());
    }
    const view = new WebView(http, wss, `http://${shown}:${a.port}/`);
    wss.on("connection", (ws) => view.#hello(ws));
    return view;
  }

  /** From now on pages show `host`; `xs` is the mirror started before its guests booted. */
  serve(host: Host, xs: XsMirror): void {
    this.#host = host;
    this.#xs = xs;
    this.#timer = setInterval(() => this.#tick(), 1000 / WEB_RATE_HZ);
  }

  #hello(ws: WebSocket): void {
    if (this.#wss.clients.size > WEB_MAX_CLIENTS) {
      ws.close(1013, "too many pages open");
      return;
    }
    const xs = this.#xs;
    if (xs === null) {
      ws.close(1013, "the host is still booting");
      return;
    }
    ws.on("error", () => ws.terminate());
    // The page sends nothing: anything it does send is ignored.
    ws.on("message", () => {});
    this.#send(
      ws,
      JSON.stringify({
        t: "hello",
        rateHz: WEB_RATE_HZ,
        tree: xs.tree(),
        log: xs.log(),
        logDropped: xs.droppedChanges,
        sample: this.#sample(),
      }),
    );
  }

  #send(ws: WebSocket, text: string): void {
    if (!sendBounded(ws, text, WEB_MAX_BUFFERED)) this.dropped++;
  }

  #tick(): void {
    const xs = this.#xs!;
    const changes = xs.takeChanges();
    const log = xs.log();
    const fresh = log.filter((e) => e.seq > this.#lastSeq);
    if (log.length > 0) this.#lastSeq = log[log.length - 1]!.seq;
    if (this.#wss.clients.size === 0) return;
    const text = JSON.stringify({
      t: "tick",
      sample: this.#sample(),
      xs: [...changes],
      log: fresh,
      logDropped: xs.droppedChanges,
    });
    for (const ws of this.#wss.clients) this.#send(ws, text);
  }

  /** The host now: live domains, bridges with their ports, and per vif states, counters and rings. */
  #sample(): unknown {
    const host = this.#host!;
    const xs = this.#xs!;
    const st = host.status();
    const machine = host.machine;
    const domains = st.domains
      .filter((d) => d.state !== "destroyed" && d.state !== "stopped")
      .map((d) => ({
        id: d.domid,
        name: d.name,
        state: d.state,
        privileged: d.privileged,
        channels: d.channels,
      }));
    const value = (p: string): string | undefined => xs.value(p);
    const vifs = st.vifs.map((v) => ({
      name: v.name,
      domain: v.domain,
      domid: v.domid,
      devid: v.devid,
      mac: v.mac,
      ip: v.ip,
      bridge: v.bridge,
      frontend: v.frontend,
      backend: v.backend,
      hotplug: v.hotplug,
      queues: v.queues,
      ringPageOrder: v.ringPageOrder,
      grantMappings: v.grantMappings,
      counters: v.counters,
      rings: sampleVifRings(v, value, machine.inspect(v.domid)),
    }));
    return {
      atMs: Math.round(performance.now() - this.#t0),
      domains,
      bridges: host.bridges(),
      vifs,
      uplinks: st.uplinks.map(webUplink),
    };
  }

  /** Stops the pushes, closes every page and the server. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const ws of this.#wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#xs?.close();
  }
}

/** An uplink as the page draws it: a switch port, what it reaches, and its counters. */
export function webUplink(u: UplinkStatus): {
  name: string;
  bridge: string;
  type: "vxlan" | "tap";
  peer: string;
  counters: Record<UplinkCounter, number>;
} {
  const peer =
    u.type === "vxlan"
      ? `VNI ${u.vni} ${u.local}:${u.port}${u.remotes.length > 0 ? ` → ${u.remotes.join(", ")}` : ""}`
      : `tap ${u.device}`;
  return { name: u.name, bridge: u.bridge, type: u.type, peer, counters: u.counters };
}

/** The few members of a WebSocket that sendBounded uses. */
export interface BoundedSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly bufferedAmount: number;
  send(text: string): void;
  terminate(): void;
}

/**
 * Sends `text` unless the socket already holds more than `max` unsent bytes: then the
 * page is dropped (terminated), since a page that cannot keep up must not make the host
 * buffer without bound. Returns false when it dropped the page.
 */
export function sendBounded(ws: BoundedSocket, text: string, max: number): boolean {
  if (ws.readyState !== ws.OPEN) return true;
  if (ws.bufferedAmount > max) {
    ws.terminate();
    return false;
  }
  ws.send(text);
  return true;
}

function isLoopback(addr: string): boolean {
  return addr === "::1" || addr.startsWith("127.") || addr === "::ffff:127.0.0.1";
}

function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  files: Map<string, { file: string; type: string }>,
  cache: Map<string, Buffer>,
): void {
  const path = (req.url ?? "/").split("?", 1)[0]!;
  const f = files.get(path);
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  if (f === undefined) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  let body = cache.get(path);
  if (body === undefined) {
    try {
      body = readFileSync(f.file);
    } catch {
      res.writeHead(500, { "content-type": "text/plain" }).end("missing file\n");
      return;
    }
    cache.set(path, body);
  }
  res.writeHead(200, { "content-type": f.type, "cache-control": "no-cache", "content-length": body.length });
  res.end(req.method === "HEAD" ? undefined : body);
}
