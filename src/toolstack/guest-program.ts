/**
 * A guest's program under `pvnet up`: connects to xenstore through its ring page, follows
 * `device/vif` as Linux's xenbus probes new devices, connects each vif with netfront, runs
 * the IP stack over it (ICMP echo, the UDP echo service on port 7), and once connected
 * pings and UDP-echoes the other guests on its bridge, reporting each result to the host.
 */
import type { Domain } from "../hv/domain.js";
import { NetfrontDriver } from "../netfront/xenbus.js";
import { NetStack } from "../stack/iface.js";
import type { UdpSocket } from "../stack/udp.js";
import { UDP_ECHO_PORT } from "../stack/udp-echo.js";
import type { XsClient } from "../xenstore/client.js";
import { connectXenstore } from "../xenstore/domain-xenstored.js";
import { type HostFrontDevice, makeFrontDevice, netfrontOptionsOf } from "./drivers.js";
import type { GuestArgs, GuestVif, HostReport } from "./host-proto.js";

interface Vif {
  readonly spec: GuestVif;
  driver: NetfrontDriver | null;
  device: HostFrontDevice | null;
  stack: NetStack | null;
}

/** The payload of a UDP echo probe: a marker and the round, so a stale echo is not counted. */
const UDP_PROBE_LEN = 8;

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const report = (r: HostReport): void => dom.report(r);
  const log = (line: string): void => report({ t: "log", line: `${dom.name}: ${line}` });
  const xs = await connectXenstore(dom);
  const vifs = new Map<number, Vif>(
    args.vifs.map((v) => [v.vif.devid, { spec: v, driver: null, device: null, stack: null }]),
  );
  const timers: number[] = [];
  let stopping = false;

  const connect = async (v: Vif): Promise<void> => {
    const cfg = v.spec.vif;
    try {
      v.driver = await NetfrontDriver.probe(dom, xs, cfg.devid, {
        makeDevice: (info) => {
          const dev = makeFrontDevice(dom, info);
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

  /** Each round: one ping and one UDP echo to every peer on the vif's bridge. */
  const startProbes = (v: Vif, stack: NetStack): void => {
    const { count, intervalMs, timeoutMs } = args.ping;
    const devid = v.spec.vif.devid;
    const sent = new Map<string, { seq: number; at: number }>();
    const probe = new Uint8Array(UDP_PROBE_LEN);
    const sock: UdpSocket = stack.bindUdp(0, (saddr, sport, buf, off, len) => {
      if (sport !== UDP_ECHO_PORT || len !== UDP_PROBE_LEN) return;
      const peer = v.spec.peers.find((p) => p.value === saddr);
      const s = peer === undefined ? undefined : sent.get(peer.address);
      if (peer === undefined || s === undefined) return;
      const seq = new DataView(buf.buffer, buf.byteOffset + off, len).getUint32(4);
      if (seq !== s.seq) return;
      sent.delete(peer.address);
      const rttMs = performance.now() - s.at;
      report({ t: "ping", devid, to: peer.address, kind: "udp", seq, ok: true, rttMs });
    });
    let round = 0;
    const once = (): void => {
      if (stopping || (count > 0 && round >= count)) return;
      const seq = round++;
      for (const peer of v.spec.peers) {
        stack.ping(peer.value, { timeoutMs }).then(
          (r) =>
            report(
              r.ok
                ? { t: "ping", devid, to: peer.address, kind: "icmp", seq, ok: true, rttMs: r.rttMs }
                : { t: "ping", devid, to: peer.address, kind: "icmp", seq, ok: false, reason: r.reason },
            ),
          (e: unknown) =>
            report({ t: "ping", devid, to: peer.address, kind: "icmp", seq, ok: false, reason: errText(e) }),
        );
        const late = sent.get(peer.address);
        if (late !== undefined)
          report({
            t: "ping",
            devid,
            to: peer.address,
            kind: "udp",
            seq: late.seq,
            ok: false,
            reason: "timeout",
          });
        const dv = new DataView(probe.buffer);
        dv.setUint32(0, 0x70766e74); // "pvnt"
        dv.setUint32(4, seq);
        sent.set(peer.address, { seq, at: performance.now() });
        sock.sendTo(peer.value, UDP_ECHO_PORT, probe, 0, UDP_PROBE_LEN);
      }
    };
    once();
    timers.push(dom.timers.every(intervalMs, once));
  };

  const known = new Set<number>();
  const probeNew = async (client: XsClient): Promise<void> => {
    let names: string[];
    try {
      names = await client.directory(`/local/domain/${dom.domid}/device/vif`);
    } catch {
      return; // no device dir yet
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

  dom.onShutdown(async () => {
    stopping = true;
    for (const t of timers) dom.timers.cancel(t);
    for (const v of vifs.values()) {
      v.stack?.down();
      // The frontend closes first: it waits for its backend, bounded so a dead one cannot hold us.
      if (v.driver !== null) await bounded(v.driver.close(), 1500).catch(() => undefined);
    }
    xs.close();
  });
}

/**
 * `p`, or undefined after `ms`. The timer is cleared once `p` settles: a pending one would
 * keep the worker alive after shutdown, and the machine would wait for it.
 */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
