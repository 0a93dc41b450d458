/**
 * The control socket of a running host (`pvnet up`): a unix socket, mode 0600, that the
 * xl-style commands (`pvnet list`, `network-list`, `destroy`, `backend-restart`, `ping`) talk to
 * from other processes. One JSON request per line, one JSON reply per line, in order:
 * `{"ok":true,...}` or `{"ok":false,"error":"..."}`. Every request is checked; a bad one
 * (not JSON, unknown op, bad arguments) gets an error reply and the connection stays.
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { PvnetError } from "../base/errors.js";
import { listenUnix } from "../base/unix-listen.js";
import type { DomainStatus } from "../hv/machine.js";
import { PAGE_SIZE } from "../hv/memory.js";
import type { VifQueueCounter } from "../netback/counters.js";
import { parseIpv4 } from "../wire/net/ipv4.js";
import { xenbusStateName } from "../xenstore/xenbus.js";
import type { Host } from "./host.js";

/** A request line longer than this is refused and the connection closed. */
export const CONTROL_LINE_MAX = 64 * 1024;

export type ControlRequest =
  | { op: "list" }
  | { op: "network-list"; domain: string }
  | { op: "destroy"; domain: string }
  | { op: "backend-restart" }
  | { op: "ping"; domain: string; ip: string; timeoutMs: number }
  | { op: "top" };

/** One row of `pvnet list`, as `xl list` prints it. */
export interface ListRow {
  name: string;
  id: number;
  /** MiB of the domain's memory. */
  mem: number;
  vcpus: number;
  /** xl's six state letters (r b p s c d), "-" where a letter does not apply. */
  state: string;
  /** The status pvnet knows ("running", "starting", ...). */
  status: DomainStatus["state"];
  /** Seconds the domain's thread has been busy (its event loop not idle). */
  time: number;
}

/** One row of `pvnet network-list`, read from xenstore as `xl network-list` does. */
export interface NicRow {
  idx: number;
  backendId: number;
  mac: string;
  handle: number;
  /** The frontend's xenbus state (-1: unreadable). */
  state: number;
  stateName: string;
  evtch: number;
  txRingRef: number;
  rxRingRef: number;
  backendPath: string;
}

export type ControlReply = ({ ok: true } & Record<string, unknown>) | { ok: false; error: string };

/**
 * xl's state letters (r b p s c d) for a pvnet domain: Domain-0 `r-----` (it runs the
 * toolstack, as xl shows it); a running guest `-b----` (its thread waits on events between
 * packets, as an idle Xen guest blocks); starting `------`; failed `----c-` (crashed);
 * stopped `---s--` (shut down); destroyed `-----d` (dying).
 */
export function stateLetters(d: Pick<DomainStatus, "state" | "privileged">): string {
  switch (d.state) {
    case "running":
      return d.privileged ? "r-----" : "-b----";
    case "starting":
      return "------";
    case "failed":
      return "----c-";
    case "stopped":
      return "---s--";
    case "destroyed":
      return "-----d";
  }
}

/** The request on a line, or a message saying what is wrong with it. */
export function parseRequest(line: string): ControlRequest | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return "bad request: not JSON (expected one JSON object per line)";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    return 'bad request: not a JSON object (expected {"op":...})';
  const o = v as Record<string, unknown>;
  const extra = (allowed: string[]): string | null => {
    const bad = Object.keys(o).filter((k) => !allowed.includes(k));
    return bad.length === 0 ? null : `bad request: ${String(o.op)}: unknown field ${JSON.stringify(bad[0])}`;
  };
  switch (o.op) {
    case "list":
    case "backend-restart":
    case "top":
      return extra(["op"]) ?? { op: o.op };
    case "network-list":
    case "destroy": {
      const e = extra(["op", "domain"]);
      if (e !== null) return e;
      if (typeof o.domain !== "string" || o.domain === "" || o.domain.length > 256)
        return `bad request: ${o.op}: "domain" must be a domain's name or id (a non-empty string)`;
      return { op: o.op, domain: o.domain };
    }
    case "ping": {
      const e = extra(["op", "domain", "ip", "timeoutMs"]);
      if (e !== null) return e;
      if (typeof o.domain !== "string" || o.domain === "" || o.domain.length > 256)
        return `bad request: ping: "domain" must be a domain's name or id (a non-empty string)`;
      if (typeof o.ip !== "string" || typeof parseIpv4(o.ip) !== "number")
        return `bad request: ping: "ip" must be an IPv4 address a.b.c.d`;
      const t = o.timeoutMs ?? 1000;
      if (typeof t !== "number" || !Number.isInteger(t) || t < 1 || t > 60_000)
        return `bad request: ping: "timeoutMs" must be an integer 1..60000`;
      return { op: "ping", domain: o.domain, ip: o.ip, timeoutMs: t };
    }
    default:
      return `bad request: unknown op ${JSON.stringify(o.op)} (expected list, network-list, destroy, backend-restart, ping or top)`;
  }
}

/** A domain by name, or by id when the text is a number (as xl takes either). */
function findDomain(host: Host, which: string): DomainStatus {
  const live = host.machine.status().filter((d) => d.state !== "destroyed" && d.state !== "stopped");
  const d =
    live.find((s) => s.name === which) ??
    (/^\d+$/.test(which) ? live.find((s) => s.domid === Number(which)) : undefined);
  if (d === undefined) throw new PvnetError("ESRCH", `no domain named ${which}`);
  return d;
}

export function listRows(host: Host): ListRow[] {
  return host.machine
    .status()
    .filter((d) => d.state !== "destroyed" && d.state !== "stopped")
    .sort((a, b) => a.domid - b.domid)
    .map((d) => ({
      name: d.name,
      id: d.domid,
      mem: Math.round((d.pages * PAGE_SIZE) / (1 << 20)),
      vcpus: 1,
      state: stateLetters(d),
      status: d.state,
      time: Math.round(host.machine.loopUtilization(d.domid)?.active ?? 0) / 1000,
    }));
}

/** A domain's vifs as xenstore holds them (frontend directory, keys as netfront writes). */
export async function nicRows(host: Host, domid: number): Promise<NicRow[]> {
  if (host.socketPath === null) throw new PvnetError("ENOTSUP", "this host has no xenstore socket to read");
  const { XsClient } = await import("../xenstore/client.js");
  const xs = await XsClient.connect(host.socketPath);
  try {
    const base = `/local/domain/${domid}/device/vif`;
    const ids = await xs.directory(base).catch(() => [] as string[]);
    const read = (p: string): Promise<string | null> => xs.read(p).catch(() => null);
    const num = (s: string | null): number => (s !== null && /^-?\d+$/.test(s.trim()) ? Number(s) : -1);
    const rows: NicRow[] = [];
    for (const id of ids.filter((i) => /^\d+$/.test(i)).sort((a, b) => Number(a) - Number(b))) {
      const fe = `${base}/${id}`;
      // One queue: the keys are in the device directory; several: queue-0 holds the first's.
      const key = async (k: string): Promise<string | null> =>
        (await read(`${fe}/${k}`)) ?? read(`${fe}/queue-0/${k}`);
      const state = num(await read(`${fe}/state`));
      rows.push({
        idx: Number(id),
        backendId: num(await read(`${fe}/backend-id`)),
        mac: (await read(`${fe}/mac`)) ?? "-",
        handle: num(await read(`${fe}/handle`)),
        state,
        stateName: state < 0 ? "-" : xenbusStateName(state),
        evtch: num((await key("event-channel")) ?? (await key("event-channel-tx"))),
        txRingRef: num(await key("tx-ring-ref")),
        rxRingRef: num(await key("rx-ring-ref")),
        backendPath: (await read(`${fe}/backend`)) ?? "-",
      });
    }
    return rows;
  } finally {
    xs.close();
  }
}

/** One vif of `pvnet top`: both ends' states and netback's counters, named as netback names them. */
export interface TopVif {
  name: string;
  domain: string;
  domid: number;
  frontend: string;
  backend: string;
  counters: Record<VifQueueCounter, number>;
}

export function topVifs(host: Host): TopVif[] {
  return host.status().vifs.map((v) => ({
    name: v.name,
    domain: v.domain,
    domid: v.domid,
    frontend: v.frontend.stateName,
    backend: v.backend.stateName,
    counters: v.counters,
  }));
}

/** Answers one request; never throws (a failure is an error reply). */
export async function handleRequest(host: Host, line: string): Promise<ControlReply> {
  const req = parseRequest(line);
  if (typeof req === "string") return { ok: false, error: req };
  try {
    switch (req.op) {
      case "list":
        return { ok: true, domains: listRows(host) };
      case "network-list": {
        const d = findDomain(host, req.domain);
        return { ok: true, domain: d.name, id: d.domid, nics: await nicRows(host, d.domid) };
      }
      case "destroy": {
        const d = findDomain(host, req.domain);
        if (d.privileged)
          throw new PvnetError("EINVAL", `${d.name} cannot be destroyed: it stops with the host`);
        await host.destroyGuest(d.domid);
        return { ok: true, domain: d.name, id: d.domid };
      }
      case "backend-restart":
        return { ok: true, ...(await host.restartBackend()) };
      case "top":
        return { ok: true, atMs: performance.now(), domains: listRows(host), vifs: topVifs(host) };
      case "ping": {
        const d = findDomain(host, req.domain);
        if (d.privileged) throw new PvnetError("EINVAL", `${d.name} has no IP stack: ping from a guest`);
        const r = await host.ping(d.domid, parseIpv4(req.ip) as number, req.timeoutMs);
        return { ...r, domain: d.name, to: req.ip, reply: r.ok, ok: true };
      }
    }
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    return { ok: false, error: m.split("\n", 1)[0]!.slice(0, 1024) || "failed" };
  }
}

export class ControlServer {
  readonly path: string;
  readonly #server: Server;
  readonly #conns = new Set<Socket>();
  /** The host the requests operate, once it has booted. */
  #host: Host | null = null;
  #closed: Promise<void> | null = null;

  private constructor(server: Server, path: string) {
    this.#server = server;
    this.path = path;
  }

  /**
   * Listens on `path` (its directory made when missing; a live socket refused, a stale one
   * replaced: unix-listen.ts), mode 0600: only the host's user may operate it. Taken before
   * the host boots, so a second `pvnet up` on the same socket stops before booting;
   * requests are answered "still booting" until `serve`.
   */
  static async listen(path: string): Promise<ControlServer> {
    const server = createServer();
    const cs = new ControlServer(server, path);
    server.on("connection", (s) => cs.#serve(s));
    await listenUnix(server, path);
    try {
      chmodSync(path, 0o600);
    } catch (e) {
      await cs.close();
      throw e;
    }
    return cs;
  }

  /** From now on, requests operate `host`. */
  serve(host: Host): void {
    this.#host = host;
  }

  #serve(s: Socket): void {
    this.#conns.add(s);
    s.on("close", () => this.#conns.delete(s));
    s.on("error", () => s.destroy());
    s.setEncoding("utf8");
    let buf = "";
    let refused = false;
    // Replies go in request order: each request waits for the one before it.
    let chain = Promise.resolve();
    const refuse = (): void => {
      buf = "";
      refused = true;
      chain = chain.then(() => {
        const error = `bad request: line longer than ${CONTROL_LINE_MAX} bytes`;
        if (!s.destroyed) s.end(`${JSON.stringify({ ok: false, error })}\n`);
      });
    };
    s.on("data", (chunk: string) => {
      if (refused) return;
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        if (nl > CONTROL_LINE_MAX) return refuse();
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === "") continue;
        chain = chain.then(async () => {
          const host = this.#host;
          const reply: ControlReply =
            host === null
              ? { ok: false, error: "the host is still booting" }
              : await handleRequest(host, line);
          if (!s.destroyed && s.writable) s.write(`${JSON.stringify(reply)}\n`);
        });
      }
      if (buf.length > CONTROL_LINE_MAX) refuse();
    });
  }

  /** Stops listening, ends the connections and removes the socket file. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      for (const s of this.#conns) s.destroy();
      this.#server.close(() => resolve());
    }).then(() => {
      try {
        if (lstatSync(this.path).isSocket()) unlinkSync(this.path);
      } catch {
        // Gone already.
      }
    });
    return this.#closed;
  }
}
