/**
 * A guest's program under `pvnet up`: connects to xenstore through its ring page, follows
 * `device/vif` as Linux's xenbus probes new devices, connects each vif with netfront, runs
 * the IP stack over it (ICMP echo, the UDP echo service on port 7), and once connected
 * pings and UDP-echoes the other guests on its bridge (each from when it answers ARP),
 * reporting each result to the host.
 */

import { bounded } from "../base/timeout.js";
import type { Domain } from "../hv/domain.js";
import { MACHINE } from "../hv/worker-proto.js";
import { NetfrontDriver } from "../netfront/xenbus.js";
import { NetStack } from "../stack/iface.js";
import { SEND_OK, sendStatusName } from "../stack/send-status.js";
import type { UdpSocket } from "../stack/udp.js";
import { UDP_ECHO_PORT } from "../stack/udp-echo.js";
import type { XsClient } from "../xenstore/client.js";
import { connectXenstore } from "../xenstore/domain-xenstored.js";
import { type HostFrontDevice, makeFrontDevice, netfrontOptionsOf } from "./drivers.js";
import { installGuestOps } from "./guest-ops.js";
import { type GuestArgs, type GuestVif, type HostReport, MSG_PING } from "./host-proto.js";

interface Vif {
  readonly spec: GuestVif;
  driver: NetfrontDriver | null;
  device: HostFrontDevice | null;
  stack: NetStack | null;
  /** This vif's probe rounds: they end with it when it is detached. */
  readonly probeTimers: number[];
}

/** The payload of a UDP echo probe: a marker and the round, so a stale echo is not counted. */
const UDP_PROBE_LEN = 8;

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const report = (r: HostReport): void => dom.report(r);
  const log = (line: string): void => report({ t: "log", line: `${dom.name}: ${line}` });
  const xs = await connectXenstore(dom);
  const vifs = new Map<number, Vif>(
    args.vifs.map((v) => [
      v.vif.devid,
      { spec: v, driver: null, device: null, stack: null, probeTimers: [] },
    ]),
  );
  const timers: number[] = [];
  /** Every peer's UDP probes awaiting their echo: their timeout timers end at shutdown. */
  const udpWaiting: Map<number, { timer: number }>[] = [];
  let stopping = false;

  const connect = async (v: Vif): Promise<void> => {
    const cfg = v.spec.vif;
    try {
      v.driver = await NetfrontDriver.probe(dom, xs, cfg.devid, {
        makeDevice: (info) => {
          const dev = makeFrontDevice(dom, info, cfg.passthrough === true, cfg.passthroughSlots);
          v.device = dev;
          if (cfg.ip !== undefined) {
            const stack = new NetStack(dev, {
              ip: cfg.ip.value,
              prefixLen: cfg.ip.prefix,
              timers: dom.timers,
              counters: v.spec.stackCounters,
            });
            v.stack = stack;
            dev.onReceive((frame, off, len, flags) => stack.receive(frame, off, len, flags));
            dev.onWritable(() => stack.onWritable());
            stack.startUdpEcho();
          }
          return dev;
        },
        ...netfrontOptionsOf(cfg),
        log,
      });
      report({ t: "probe", devid: cfg.devid, ok: true });
    } catch (e) {
      report({ t: "probe", devid: cfg.devid, ok: false, error: errText(e) });
      return;
    }
    if (stopping || v.stack === null) return;
    v.stack.up();
    startProbes(v, v.stack);
  };

  /**
   * Each peer on the vif's bridge gets `count` rounds (0: until stopped) of one ping and
   * one UDP echo, from the moment it answered ARP: before that its vif or stack may not be
   * up, and a probe would only measure our own wait. If ARP gives up on it (3 s), the
   * rounds start anyway and report what happens. Every probe sent is reported once: its
   * reply, its timeout, or the error that stopped it.
   */
  const startProbes = (v: Vif, stack: NetStack): void => {
    const { count, intervalMs, timeoutMs } = args.ping;
    const devid = v.spec.vif.devid;
    /** Per peer (by address value): UDP probes awaiting their echo, by seq. */
    const waiting = new Map<number, Map<number, { at: number; timer: number }>>();
    const probe = new Uint8Array(UDP_PROBE_LEN);
    const sock: UdpSocket = stack.bindUdp(0, (saddr, sport, buf, off, len) => {
      if (sport !== UDP_ECHO_PORT || len !== UDP_PROBE_LEN) return;
      const peer = v.spec.peers.find((p) => p.value === saddr);
      const out = waiting.get(saddr);
      if (peer === undefined || out === undefined) return;
      const seq = new DataView(buf.buffer, buf.byteOffset + off, len).getUint32(4);
      const w = out.get(seq);
      if (w === undefined) return;
      out.delete(seq);
      dom.timers.cancel(w.timer);
      const rttMs = performance.now() - w.at;
      report({ t: "ping", devid, to: peer.address, kind: "udp", seq, ok: true, rttMs });
    });
    const fail = (to: string, kind: "icmp" | "udp", seq: number, reason: string): void => {
      if (!stopping) report({ t: "ping", devid, to, kind, seq, ok: false, reason });
    };
    const rounds = (peer: GuestVif["peers"][number]): void => {
      const out = new Map<number, { at: number; timer: number }>();
      waiting.set(peer.value, out);
      udpWaiting.push(out);
      let round = 0;
      const once = (): void => {
        if (stopping || (count > 0 && round >= count)) {
          dom.timers.cancel(timer);
          return;
        }
        const seq = round++;
        stack.ping(peer.value, { timeoutMs }).then(
          (r) =>
            r.ok
              ? report({ t: "ping", devid, to: peer.address, kind: "icmp", seq, ok: true, rttMs: r.rttMs })
              : fail(peer.address, "icmp", seq, r.reason),
          (e: unknown) => fail(peer.address, "icmp", seq, errText(e)),
        );
        const dv = new DataView(probe.buffer);
        dv.setUint32(0, 0x70766e74); // "pvnt"
        dv.setUint32(4, seq);
        const at = performance.now();
        const st = sock.sendTo(peer.value, UDP_ECHO_PORT, probe, 0, UDP_PROBE_LEN);
        if (st !== SEND_OK) {
          fail(peer.address, "udp", seq, sendStatusName(st));
          return;
        }
        const late = dom.timers.after(timeoutMs, () => {
          if (out.delete(seq)) fail(peer.address, "udp", seq, "timeout");
        });
        out.set(seq, { at, timer: late });
      };
      const timer = dom.timers.every(intervalMs, once);
      timers.push(timer);
      v.probeTimers.push(timer);
      once();
    };
    for (const peer of v.spec.peers) {
      if (stack.arpSolicit(peer.value) !== "incomplete") {
        rounds(peer);
        continue;
      }
      // A cache lookup every 10 ms until the peer answers (or ARP gives up): control plane.
      const wait = dom.timers.every(10, () => {
        if (stopping) return dom.timers.cancel(wait);
        if (stack.arpEntries().find((e) => e.ip === peer.value >>> 0)?.state === "incomplete") return;
        dom.timers.cancel(wait);
        rounds(peer);
      });
      timers.push(wait);
      v.probeTimers.push(wait);
    }
  };

  const known = new Set<number>();
  const probeNew = async (client: XsClient): Promise<void> => {
    let names: string[];
    try {
      names = await client.directory(`/local/domain/${dom.domid}/device/vif`);
    } catch {
      names = []; // no device dir (yet, or its last device was detached)
    }
    // A device whose directory went (xl network-detach) leaves the guest with its stack.
    for (const devid of known) {
      const v = vifs.get(devid);
      if (names.includes(String(devid)) || v === undefined) continue;
      known.delete(devid);
      vifs.delete(devid);
      for (const t of v.probeTimers) dom.timers.cancel(t);
      v.stack?.down();
      if (v.driver !== null) await bounded(v.driver.close(), 1500).catch(() => undefined);
      dom.report({ t: "vif-gone", id: devid }); // network-detach returns once this is done
    }
    for (const n of names) {
      const devid = Number(n);
      const v = vifs.get(devid);
      if (v === undefined || known.has(devid)) continue;
      known.add(devid);
      void connect(v);
    }
  };
  const follow = async (): Promise<void> => {
    const w = await xs.watch(`/local/domain/${dom.domid}/device/vif`);
    for await (const _ of w) {
      if (stopping) return;
      await probeNew(xs);
    }
  };
  follow().catch((e: unknown) => log(`watch device/vif: ${errText(e)}`));
  installGuestOps(dom, {
    stacks: () =>
      [...vifs.values()].flatMap((v) =>
        v.stack === null || v.spec.vif.ip === undefined
          ? []
          : [{ stack: v.stack, ip: v.spec.vif.ip.value, prefix: v.spec.vif.ip.prefix }],
      ),
    addVif: (spec) => {
      if (stopping || vifs.has(spec.vif.devid)) return;
      vifs.set(spec.vif.devid, { spec, driver: null, device: null, stack: null, probeTimers: [] });
      void probeNew(xs);
    },
  });

  // `pvnet ping`: one echo on the host's behalf, from the vif whose subnet holds the target.
  dom.onMessage((from, data) => {
    const m = data as { t?: unknown; id?: unknown; ip?: unknown; timeoutMs?: unknown } | null;
    if (from !== MACHINE || typeof m !== "object" || m === null || m.t !== MSG_PING) return;
    if (typeof m.id !== "number" || typeof m.ip !== "number" || typeof m.timeoutMs !== "number") return;
    const { id, ip, timeoutMs } = m;
    const up = [...vifs.values()].filter((v) => v.stack !== null && v.spec.vif.ip !== undefined);
    const inNet = (v: Vif): boolean => {
      const c = v.spec.vif.ip!;
      const mask = c.prefix === 0 ? 0 : (~0 << (32 - c.prefix)) >>> 0;
      return (c.value & mask) >>> 0 === (ip & mask) >>> 0;
    };
    const v = up.find(inNet) ?? up[0];
    if (v === undefined || stopping) {
      report({ t: "ping-result", id, from: null, ok: false, reason: "no vif with an IP stack is up" });
      return;
    }
    const src = v.spec.vif.ip!.address;
    v.stack!.ping(ip, { timeoutMs }).then(
      (r) =>
        report(
          r.ok
            ? {
                t: "ping-result",
                id,
                from: src,
                ok: true,
                seq: r.seq,
                rttMs: r.rttMs,
                ttl: r.ttl,
                dataLen: r.dataLen,
              }
            : { t: "ping-result", id, from: src, ok: false, seq: r.seq, reason: r.reason },
        ),
      (e: unknown) => report({ t: "ping-result", id, from: src, ok: false, reason: errText(e) }),
    );
  });

  dom.onShutdown(async () => {
    stopping = true;
    for (const t of timers) dom.timers.cancel(t);
    for (const out of udpWaiting) for (const w of out.values()) dom.timers.cancel(w.timer);
    for (const v of vifs.values()) {
      v.stack?.down();
      // The frontend closes first: it waits for its backend, bounded so a dead one cannot hold us.
      if (v.driver !== null) await bounded(v.driver.close(), 1500).catch(() => undefined);
    }
    xs.close();
  });
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
