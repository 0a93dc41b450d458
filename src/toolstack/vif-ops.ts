/**
 * The main thread's side of the operator's device commands: Host.attachVif and
 * Host.detachVif (`xl network-attach` / `network-detach` against a running host),
 * Host.udpEcho (`pvnet udp-echo`), and the vif hotplug scripts Domain-0 asks for (run here
 * because a worker thread cannot fork safely; the outcome goes back as MSG_HOTPLUG_DONE).
 */
import { execFile } from "node:child_process";
import { PvnetError } from "../base/errors.js";
import { withTimeout } from "../base/timeout.js";
import type { Machine } from "../hv/machine.js";
import { stackCounters } from "../stack/counters.js";
import { XenbusState } from "../xenstore/xenbus.js";
import { DEFAULT_BRIDGE } from "./config-schema.js";
import { derivedMac } from "./config-semantic.js";
import { ALL_VIF_FEATURES, type VifConfig } from "./config-types.js";
import { parseCidr } from "./control.js";
import type { HostStatus } from "./host.js";
import { type GuestVif, type HostVif, vifShared } from "./host-proto.js";
import {
  checkOpsReport,
  HOTPLUG_SCRIPT_MS,
  MSG_ATTACH_VIF,
  MSG_DETACH_VIF,
  MSG_GUEST_VIF,
  MSG_HOTPLUG_DONE,
  MSG_UDP,
  type OpsReport,
} from "./ops-proto.js";

/** What `network-attach` takes, as xl's `mac=... bridge=... ip=... script=...`. */
export interface AttachVifSpec {
  /** Default: one in Xen's OUI that no vif has. */
  readonly mac?: string;
  /** Default vale0. */
  readonly bridge?: string;
  /** a.b.c.d/N: the guest's stack gets this address on the new vif; none: no stack. */
  readonly ip?: string;
  /** The hotplug script's absolute path; none: the built-in bridge attach. */
  readonly script?: string;
}

/** A vif that network-attach made, Connected at both ends. */
export interface AttachedVif {
  readonly domain: string;
  readonly id: number;
  readonly devid: number;
  readonly vif: string;
  readonly mac: string;
  readonly ip: string | null;
  readonly bridge: string;
}

export interface DetachedVif {
  readonly domain: string;
  readonly id: number;
  readonly devid: number;
  readonly vif: string;
  /** Whether the backend reached Closed before its directories were removed. */
  readonly closed: boolean;
}

/** One UDP datagram echoed (or not) from inside a guest. */
export interface UdpEchoResult {
  /** The address it left from; null: no stack up. */
  readonly from: string | null;
  readonly ok: boolean;
  readonly rttMs?: number;
  readonly bytes?: number;
  readonly reason?: string;
}

/** What Host lends these operations (its private tables stay in host.ts). */
export interface VifOpsHost {
  readonly machine: Machine;
  /** A live guest's domid and name (ESRCH / EINVAL otherwise). */
  guest(which: number | string): { domid: number; name: string };
  status(): HostStatus;
  bridges(): string[];
  /** Starts showing a vif in status(). */
  track(name: string, vif: HostVif, stack: SharedArrayBuffer): void;
  /** Stops showing it. */
  untrack(domid: number, devid: number): void;
}

/** How long detach waits for the guest to let go of the vif (its frontend's close is bounded at 1.5 s). */
const GONE_MS = 3000;

/** How long attach waits for the new vif to be Connected at both ends. */
const CONNECT_MS = 10_000;

export class VifOps {
  readonly #machine: Machine;
  readonly #socketPath: string | null;
  readonly #log: (line: string) => void;
  /** Questions waiting for their answer, by id: only the domain asked may answer. */
  readonly #asks = new Map<number, { domid: number; resolve: (r: OpsReport) => void }>();
  /** Detaches waiting for their guest to let go of the vif, by "domid/devid". */
  readonly #gone = new Map<string, () => void>();
  #devices: Promise<void> = Promise.resolve();
  /** The last failed script run per vif name: attach's error message. */
  readonly #scriptErrors = new Map<string, string>();
  #next = 1;

  constructor(machine: Machine, socketPath: string | null, log: (line: string) => void) {
    this.#machine = machine;
    this.#socketPath = socketPath;
    this.#log = log;
  }

  /** Why a vif's script last failed (its stderr's last line), if it did. */
  scriptError(vif: string): string | undefined {
    return this.#scriptErrors.get(vif);
  }

  /** Takes a domain's report if it is one of ours; true when it was. */
  onReport(domid: number, data: unknown): boolean {
    const r = checkOpsReport(data);
    if (r === null) return false;
    if (r.t === "hotplug-run") {
      if (domid === 0) this.#runScript(r);
      return true;
    }
    if (r.t === "vif-gone") {
      this.#gone.get(`${domid}/${r.id}`)?.();
      return true;
    }
    // Attach and detach are answered by Domain-0, UDP by the guest asked.
    if ((r.t === "udp-result") === (domid === 0)) return true;
    const ask = this.#asks.get(r.id);
    if (ask === undefined || ask.domid !== domid) return true;
    this.#asks.delete(r.id);
    ask.resolve(r);
    return true;
  }

  async #ask(domid: number, msg: Record<string, unknown>, ms: number, what: string): Promise<OpsReport> {
    const id = this.#next++;
    const answer = new Promise<OpsReport>((resolve) => this.#asks.set(id, { domid, resolve }));
    this.#machine.post(domid, { ...msg, id });
    try {
      return await withTimeout(answer, ms, what);
    } finally {
      this.#asks.delete(id);
    }
  }

  /**
   * Runs a vif's hotplug script as libxl does: `script online|offline` with Xen's vif
   * environment (and XENSTORED_PATH, so xenstore-read and xenstore-write in the script
   * reach this host's xenstored). Exit 0 is success; otherwise the message is the last
   * line the script wrote to stderr (Xen's scripts say why there before they fail).
   */
  #runScript(r: Extract<OpsReport, { t: "hotplug-run" }>): void {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...r.env };
    if (this.#socketPath !== null) env.XENSTORED_PATH = this.#socketPath;
    execFile(
      r.script,
      [r.action],
      { env, timeout: HOTPLUG_SCRIPT_MS - 1000, maxBuffer: 1 << 20 },
      (err, _out, errOut) => {
        const last =
          String(errOut)
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l !== "")
            .pop() ?? "";
        let code = 0;
        let message = "";
        if (err !== null) {
          const e = err as NodeJS.ErrnoException & { code?: unknown; signal?: unknown };
          code = typeof e.code === "number" ? e.code : -1;
          const how =
            typeof e.code === "number"
              ? `exit ${e.code}`
              : typeof e.signal === "string" && e.signal !== ""
                ? `killed by ${e.signal}`
                : `cannot run: ${e.message}`;
          message = last === "" ? `${r.script} ${r.action}: ${how}` : last;
          this.#scriptErrors.set(r.env.vif ?? "", message.slice(0, 512));
          this.#log(
            `hotplug ${r.env.vif ?? "?"}: ${r.script} ${r.action}: ${how}${last === "" ? "" : `: ${last}`}`,
          );
        }
        try {
          this.#machine.post(0, { t: MSG_HOTPLUG_DONE, id: r.id, code, message: message.slice(0, 1024) });
        } catch {
          // Domain-0 is gone (the host is shutting down): nobody waits for the answer.
        }
      },
    );
  }

  /**
   * `xl network-attach`: one more vif in a running guest. The guest is told of the vif's
   * configuration first, Domain-0 then writes its device (and runs its script, if any),
   * and this resolves once the vif is Connected at both ends. A vif that fails (its script
   * failed, or it does not connect) is taken away again and the error says why.
   */
  attachVif(h: VifOpsHost, which: number | string, spec: AttachVifSpec): Promise<AttachedVif> {
    return this.#serial(() => this.#attach(h, which, spec));
  }

  async #attach(h: VifOpsHost, which: number | string, spec: AttachVifSpec): Promise<AttachedVif> {
    const g = h.guest(which);
    const bridge = spec.bridge ?? DEFAULT_BRIDGE;
    const bridges = h.bridges();
    if (!bridges.includes(bridge))
      throw new PvnetError("ENOENT", `no bridge named ${bridge} (the host has ${bridges.join(", ")})`);
    const all = h.status().vifs;
    const mine = all.filter((v) => v.domid === g.domid);
    if (mine.length >= 16) throw new PvnetError("ENOSPC", `${g.name} has 16 vifs, the most a guest may have`);
    // libxl's next devid: one past the highest the guest has.
    const devid = mine.reduce((m, v) => Math.max(m, v.devid + 1), 0);
    const macs = new Set(all.map((v) => v.mac));
    let mac: string;
    if (spec.mac !== undefined) {
      mac = spec.mac.toLowerCase();
      if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || (Number.parseInt(mac.slice(0, 2), 16) & 1) !== 0)
        throw new PvnetError("EINVAL", `mac ${spec.mac}: not a unicast MAC address like 00:16:3e:00:01:00`);
      const owner = all.find((v) => v.mac === mac);
      if (owner !== undefined)
        throw new PvnetError("EADDRINUSE", `mac ${mac} is ${owner.name}'s (${owner.domain})`);
    } else {
      let k = 0;
      while (macs.has(derivedMac(g.domid, devid + k))) k++;
      mac = derivedMac(g.domid, devid + k);
    }
    // xl's ip= is a bare address: the bridge's subnet gives the prefix (a /24 on an empty bridge).
    const onBridge = all.find((x) => x.bridge === bridge && x.ip !== null)?.ip;
    const ipText =
      spec.ip === undefined || spec.ip.includes("/")
        ? spec.ip
        : `${spec.ip}/${onBridge?.split("/")[1] ?? 24}`;
    const ip = ipText === undefined ? undefined : parseCidr(ipText);
    if (ip === null)
      throw new PvnetError("EINVAL", `ip ${spec.ip}: expected an address with its prefix, a.b.c.d/N`);
    if (ip !== undefined)
      for (const v of all.filter((x) => x.bridge === bridge && x.ip !== null)) {
        const other = parseCidr(v.ip!)!;
        if (other.value === ip.value)
          throw new PvnetError("EADDRINUSE", `${ip.address} is ${v.name}'s (${v.domain})`);
        if (other.network !== ip.network || other.prefix !== ip.prefix)
          throw new PvnetError(
            "EINVAL",
            `${spec.ip} is not in ${bridge}'s subnet (${other.network}/${other.prefix}, as ${v.name}'s ${v.ip})`,
          );
      }
    if (spec.script !== undefined && !spec.script.startsWith("/"))
      throw new PvnetError("EINVAL", `script ${spec.script}: expected an absolute path`);
    const vif: VifConfig = {
      devid,
      mac,
      ip,
      bridge,
      queues: 1,
      ringPageOrder: 0,
      trusted: true,
      features: ALL_VIF_FEATURES,
      ...(spec.script === undefined ? {} : { script: spec.script }),
    };
    const host: HostVif = { domid: g.domid, vif, shared: vifShared() };
    const stack = stackCounters().buffer;
    const peers = all
      .filter((v) => v.domid !== g.domid && v.bridge === bridge && v.ip !== null)
      .map((v) => {
        const c = parseCidr(v.ip!)!;
        return { address: c.address, value: c.value };
      });
    const guestVif: GuestVif = { vif, peers, stackCounters: stack };
    const name = `vif${g.domid}.${devid}`;
    this.#scriptErrors.delete(name);
    h.track(g.name, host, stack);
    this.#machine.post(g.domid, { t: MSG_GUEST_VIF, vif: guestVif });
    const r = await this.#ask(0, { t: MSG_ATTACH_VIF, vif: host }, 5000, `${name}'s device`).catch(
      (e: unknown) =>
        ({ t: "vif-attached", id: 0, error: e instanceof Error ? e.message : String(e) }) as const,
    );
    if (r.t === "vif-attached" && r.error !== undefined) {
      h.untrack(g.domid, devid);
      throw new PvnetError("EIO", `cannot add ${name}: ${r.error}`);
    }
    const end = performance.now() + CONNECT_MS;
    for (;;) {
      const v = h.status().vifs.find((x) => x.domid === g.domid && x.devid === devid);
      if (v === undefined) throw new PvnetError("ESRCH", `${name}: its guest went away`);
      if (v.hotplug === "error" || performance.now() > end) {
        const why =
          v.hotplug === "error"
            ? `hotplug failed: ${this.#scriptErrors.get(name) ?? "no bridge to join"}`
            : `not Connected within ${CONNECT_MS / 1000} s (frontend ${v.frontend.stateName}, backend ${v.backend.stateName})`;
        await this.#detach(h, g.domid, String(devid)).catch(() => undefined);
        throw new PvnetError("EIO", `${name}: ${why}; removed it`);
      }
      if (
        v.frontend.state === XenbusState.Connected &&
        v.backend.state === XenbusState.Connected &&
        v.hotplug === "connected"
      )
        return { domain: g.name, id: g.domid, devid, vif: name, mac, ip: v.ip, bridge };
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  /**
   * `xl network-detach DOMAIN DEVID|MAC`: the backend is told to close (online 0,
   * Closing), the guest's frontend closes, the directories go, the vif leaves its switch
   * and the guest's stack loses the interface.
   */
  detachVif(h: VifOpsHost, which: number | string, device: string): Promise<DetachedVif> {
    return this.#serial(() => this.#detach(h, which, device));
  }

  /**
   * One device change at a time, as libxl holds its lock: two attaches at once would pick
   * the same devid.
   */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#devices.then(fn);
    this.#devices = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #detach(h: VifOpsHost, which: number | string, device: string): Promise<DetachedVif> {
    const g = h.guest(which);
    const mine = h.status().vifs.filter((v) => v.domid === g.domid);
    const v = /^\d+$/.test(device)
      ? mine.find((x) => x.devid === Number(device))
      : mine.find((x) => x.mac === device.toLowerCase());
    if (v === undefined)
      throw new PvnetError(
        "ENODEV",
        `${g.name} has no vif ${device} (it has ${mine.map((x) => `${x.devid} ${x.mac}`).join(", ") || "none"})`,
      );
    // The guest lets go (its frontend closed, its stack without the interface) after the
    // directories went; a re-attach of the same devid must not meet the old frontend.
    const k = `${g.domid}/${v.devid}`;
    const gone = new Promise<void>((resolve) => this.#gone.set(k, resolve));
    let r: OpsReport;
    try {
      r = await this.#ask(
        0,
        { t: MSG_DETACH_VIF, domid: g.domid, devid: v.devid },
        10_000,
        `${v.name}'s removal`,
      );
      // A guest program of the user's may not say so: bounded, then the detach is done anyway.
      await withTimeout(gone, GONE_MS, `${g.name} letting go of ${v.name}`).catch(() => undefined);
    } finally {
      this.#gone.delete(k);
    }
    h.untrack(g.domid, v.devid);
    if (r.t === "vif-detached" && r.error !== undefined)
      throw new PvnetError("EIO", `cannot remove ${v.name}: ${r.error}`);
    return {
      domain: g.name,
      id: g.domid,
      devid: v.devid,
      vif: v.name,
      closed: r.t === "vif-detached" && r.closed,
    };
  }

  /** An echo server on `port` in every stack the guest has up (as the echo service on port 7). */
  async udpListen(
    h: VifOpsHost,
    which: number | string,
    port: number,
  ): Promise<{ domain: string; id: number; port: number; addresses: string[] }> {
    const g = h.guest(which);
    const r = await this.#ask(g.domid, { t: MSG_UDP, op: "listen", port }, 5000, "the guest's answer");
    if (r.t !== "udp-result" || !r.ok)
      throw new PvnetError("EIO", r.t === "udp-result" ? (r.reason ?? "failed") : "failed");
    return {
      domain: g.name,
      id: g.domid,
      port,
      addresses: (r.from ?? "").split(",").filter((a) => a !== ""),
    };
  }

  /** One datagram of `size` bytes to ip:port from inside the guest, and its echo's round trip. */
  async udpEcho(
    h: VifOpsHost,
    which: number | string,
    ip: number,
    port: number,
    size: number,
    timeoutMs: number,
  ): Promise<UdpEchoResult> {
    const g = h.guest(which);
    const r = await this.#ask(
      g.domid,
      { t: MSG_UDP, op: "send", ip: ip >>> 0, port, size, timeoutMs },
      timeoutMs + 2000,
      "the guest's UDP echo result",
    );
    if (r.t !== "udp-result") throw new PvnetError("EPROTO", "unexpected answer");
    if (r.from === null) throw new PvnetError("ENETDOWN", r.reason ?? "no vif with an IP stack is up");
    return { from: r.from, ok: r.ok, rttMs: r.rttMs, bytes: r.bytes, reason: r.reason };
  }
}
