/**
 * The control socket of a running host (`pvnet up`): a unix socket, mode 0600, that the
 * xl-style commands (`pvnet list`, `network-list`, `create`, `destroy`, `vcpu-pin`, `backend-restart`, `ping`, `top`;
 * `network-attach`, `network-detach`, `udp-echo` and `create FILE` in control-ops.ts) talk to
 * from other processes. One JSON request per line, one JSON reply per line, in order:
 * `{"ok":true,...}` or `{"ok":false,"error":"..."}`. Every request is checked; a bad one
 * (not JSON, unknown op, bad arguments) gets an error reply and the connection stays.
 * `capture` (`pvnet capture`) turns its connection into a stream: capture-stream.ts.
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { PvnetError } from "../base/errors.js";
import { listenUnix } from "../base/unix-listen.js";
import { formatCpuList, hostCpuCount, parseCpuList } from "../hv/cpus.js";
import type { DomainStatus } from "../hv/machine.js";
import { PAGE_SIZE } from "../hv/memory.js";
import type { VifQueueCounter } from "../netback/counters.js";
import { formatIpv4, parseIpv4 } from "../wire/net/ipv4.js";
import { XenbusState, xenbusStateName } from "../xenstore/xenbus.js";
import { parseCaptureRequest, serveCapture } from "./capture-stream.js";
import { DEFAULT_MEMORY_MIB } from "./config-schema.js";
import { derivedMac } from "./config-semantic.js";
import { ALL_VIF_FEATURES, type Ipv4Cidr, type VifConfig } from "./config-types.js";
import { handleOpsRequest, OPS_NAMES, type OpsRequest, parseOpsRequest } from "./control-ops.js";
import type { Host } from "./host.js";

/** A request line longer than this is refused and the connection closed. */
export const CONTROL_LINE_MAX = 64 * 1024;

export type ControlRequest =
  | { op: "list" }
  | { op: "network-list"; domain: string }
  | { op: "destroy"; domain: string }
  | { op: "vcpu-pin"; domain: string; cpus: string }
  | { op: "backend-restart" }
  | { op: "ping"; domain: string; ip: string; timeoutMs: number }
  | { op: "top" }
  | { op: "create"; name: string; ip: string | null; bridge: string }
  | OpsRequest;

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
    case "vcpu-pin": {
      const e = extra(["op", "domain", "cpus"]);
      if (e !== null) return e;
      if (typeof o.domain !== "string" || o.domain === "" || o.domain.length > 256)
        return `bad request: vcpu-pin: "domain" must be a domain's name or id (a non-empty string)`;
      if (typeof o.cpus !== "string" || o.cpus === "" || o.cpus.length > 256)
        return `bad request: vcpu-pin: "cpus" must be a CPU list as xl's ("1-3", "0,2", "all")`;
      return { op: "vcpu-pin", domain: o.domain, cpus: o.cpus };
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
    case "create": {
      const e = extra(["op", "name", "ip", "bridge"]);
      if (e !== null) return e;
      if (typeof o.name !== "string" || !GUEST_NAME.test(o.name))
        return `bad request: create: "name" must be ${GUEST_NAME_RULE}`;
      const ip = o.ip ?? null;
      if (ip !== null && (typeof ip !== "string" || parseCidr(ip) === null))
        return `bad request: create: "ip" must be an address with its prefix, a.b.c.d/N (N 1-32)`;
      const bridge = o.bridge ?? "vale0";
      if (typeof bridge !== "string" || bridge === "" || bridge.length > 64)
        return `bad request: create: "bridge" must be a bridge's name`;
      return { op: "create", name: o.name, ip, bridge };
    }
    default:
      return (
        parseOpsRequest(o) ??
        `bad request: unknown op ${JSON.stringify(o.op)} (expected list, network-list, destroy, vcpu-pin, backend-restart, ping, top, create or ${OPS_NAMES.join(", ")})`
      );
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

/** A name `create` takes, and the rule in words. */
export const GUEST_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const GUEST_NAME_RULE = "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit";

/** "a.b.c.d/N" as the config holds it, or null. */
export function parseCidr(s: string): Ipv4Cidr | null {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (m === null) return null;
  const value = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (typeof value !== "number" || prefix < 1 || prefix > 32) return null;
  const mask = (0xffffffff << (32 - prefix)) >>> 0;
  return { address: m[1]!, prefix, value, network: formatIpv4((value & mask) >>> 0) };
}

/** How long `create` waits for the new guest's vif to be Connected at both ends. */
const CREATE_CONNECT_MS = 10_000;

/**
 * `xl create` of one guest with one vif: checked against the running host (a new name, a
 * known bridge, an address free and in the bridge's subnet), a MAC in Xen's OUI no vif has,
 * then Host.addGuest; resolves once the vif is Connected at both ends. A guest whose vif
 * does not connect is destroyed again.
 */
export async function createGuest(
  host: Host,
  req: Extract<ControlRequest, { op: "create" }>,
): Promise<{ domain: string; id: number; vif: string; mac: string; ip: string | null; bridge: string }> {
  const live = host.machine.status().filter((d) => d.state !== "destroyed" && d.state !== "stopped");
  if (live.some((d) => d.name === req.name))
    throw new PvnetError("EEXIST", `a domain named ${req.name} exists`);
  const bridges = host.bridges();
  if (!bridges.includes(req.bridge))
    throw new PvnetError("ENOENT", `no bridge named ${req.bridge} (the host has ${bridges.join(", ")})`);
  const vifs = host.status().vifs;
  const ip = req.ip === null ? undefined : parseCidr(req.ip)!;
  if (ip !== undefined)
    for (const v of vifs.filter((x) => x.bridge === req.bridge && x.ip !== null)) {
      const other = parseCidr(v.ip!)!;
      if (other.value === ip.value)
        throw new PvnetError("EADDRINUSE", `${ip.address} is ${v.name}'s (${v.domain})`);
      if (other.network !== ip.network || other.prefix !== ip.prefix)
        throw new PvnetError(
          "EINVAL",
          `${req.ip} is not in ${req.bridge}'s subnet (${other.network}/${other.prefix}, as ${v.name}'s ${v.ip})`,
        );
    }
  const macs = new Set(vifs.map((v) => v.mac));
  const next = Math.max(...live.map((d) => d.domid)) + 1;
  let k = 0;
  while (macs.has(derivedMac(next + k, 0))) k++;
  const mac = derivedMac(next + k, 0);
  const vif: VifConfig = {
    devid: 0,
    mac,
    ip,
    bridge: req.bridge,
    queues: 1,
    ringPageOrder: 0,
    trusted: true,
    features: ALL_VIF_FEATURES,
  };
  const id = await host.addGuest({
    name: req.name,
    memoryMiB: DEFAULT_MEMORY_MIB,
    pages: (DEFAULT_MEMORY_MIB << 20) / PAGE_SIZE,
    vifs: [vif],
  });
  const end = performance.now() + CREATE_CONNECT_MS;
  for (;;) {
    const v = host.status().vifs.find((x) => x.domid === id);
    if (
      v !== undefined &&
      v.frontend.state === XenbusState.Connected &&
      v.backend.state === XenbusState.Connected
    )
      return { domain: req.name, id, vif: v.name, mac, ip: v.ip, bridge: req.bridge };
    if (performance.now() > end) {
      await host.destroyGuest(id).catch(() => undefined);
      throw new PvnetError(
        "ETIMEDOUT",
        `${req.name}'s vif not Connected within ${CREATE_CONNECT_MS / 1000} s (frontend ${v?.frontend.stateName ?? "-"}, backend ${v?.backend.stateName ?? "-"}); destroyed it`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
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
      case "vcpu-pin": {
        const d = findDomain(host, req.domain);
        const cpus = parseCpuList(req.cpus, hostCpuCount());
        if (typeof cpus === "string")
          throw new PvnetError("EINVAL", `cpus ${JSON.stringify(req.cpus)}: ${cpus}`);
        await host.machine.setCpus(d.domid, cpus);
        return { ok: true, domain: d.name, id: d.domid, cpus: formatCpuList(cpus) };
      }
      case "backend-restart":
        return { ok: true, ...(await host.restartBackend()) };
      case "create":
        return { ok: true, ...(await createGuest(host, req)) };
      case "top":
        return { ok: true, atMs: performance.now(), domains: listRows(host), vifs: topVifs(host) };
      case "ping": {
        const d = findDomain(host, req.domain);
        if (d.privileged) throw new PvnetError("EINVAL", `${d.name} has no IP stack: ping from a guest`);
        const r = await host.ping(d.domid, parseIpv4(req.ip) as number, req.timeoutMs);
        return { ...r, domain: d.name, to: req.ip, reply: r.ok, ok: true };
      }
      default:
        return { ...(await handleOpsRequest(host, req)), ok: true };
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
    const onData = (chunk: string) => {
      if (refused) return;
      buf += chunk;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        if (nl > CONTROL_LINE_MAX) return refuse();
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === "") continue;
        // `capture` turns the connection into a stream (capture-stream.ts) until it ends.
        const cap = parseCaptureRequest(line);
        if (cap !== null && typeof cap !== "string") {
          s.removeListener("data", onData);
          const rest = buf;
          chain = chain.then(async () => {
            const host = this.#host;
            if (host === null)
              s.write(`${JSON.stringify({ ok: false, error: "the host is still booting" })}\n`);
            if (host === null || !(await serveCapture(host, s, cap, rest))) s.on("data", onData);
          });
          buf = "";
          return;
        }
        if (typeof cap === "string") {
          chain = chain.then(
            () => void (s.writable && s.write(`${JSON.stringify({ ok: false, error: cap })}\n`)),
          );
          continue;
        }
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
    };
    s.on("data", onData);
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
