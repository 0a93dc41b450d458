/**
 * The guest of the netfront worker tests: sets its rings up as the xenbus half would
 * (pages granted to Domain-0, FrontRing.init, unbound ports), hands them to a
 * NetfrontDevice and to Domain-0's echo backend, runs one scenario, closes everything and
 * reports `{t:"result", ...}`.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { PAGE_SIZE } from "../../../src/hv/memory.js";
import { NetfrontDevice } from "../../../src/netfront/device.js";
import type { FrontFeatures, FrontQueue } from "../../../src/netfront/device-api.js";
import { flowHash } from "../../../src/netfront/flow-hash.js";
import { RingArea } from "../../../src/ring/area.js";
import { FrontRing } from "../../../src/ring/front.js";
import { NETIF_RX_ENTRY_SIZE, NETIF_TX_ENTRY_SIZE } from "../../../src/wire/xen/netif.js";
import type { Hostile } from "../echo-queue.js";
import { checkFrame, fillFrame, udpFrame } from "../frames.js";
import type { ConnectMsg, QueueRefs } from "./echo-back.js";

export interface TxFrame {
  len: number;
  flags: number;
  gso?: number;
  mss?: number;
}

export interface GuestArgs {
  scenario: "echo" | "ringfull" | "multiqueue" | "hostile" | "rewrite";
  queues?: number;
  order?: number;
  split?: boolean;
  frames?: TxFrame[];
  hostile?: Hostile;
  count?: number;
  /** netfront's `trusted` (default true). */
  trusted?: boolean;
}

/** Int32 words the "rewrite" scenario shares with the backend: frames seen, frames rewritten. */
export const SYNC_SEEN = 0;
export const SYNC_REWRITTEN = 1;

export interface Received {
  seq: number;
  len: number;
  flags: number;
  gsoType: number;
  gsoSize: number;
}

const FEATURES: FrontFeatures = {
  sg: true,
  gsoTcpv4: true,
  gsoTcpv6: true,
  csumOffload: true,
  ipv6CsumOffload: true,
  multicastControl: false,
};

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const a = raw as GuestArgs;
  const nq = a.queues ?? 1;
  const order = a.order ?? 0;
  const mem = dom.memory.mem;
  const ringRefs: number[] = [];
  const ports: number[] = [];
  const fatals: string[] = [];
  const dev = new NetfrontDevice(
    dom,
    { mac: "00:16:3e:00:00:01", mtu: 1500, trusted: a.trusted ?? true },
    { log: () => {} },
  );
  const sync = new Int32Array(new SharedArrayBuffer(8));
  const fqs: FrontQueue[] = [];
  const refs: QueueRefs[] = [];
  const ring = (entry: number): { ring: FrontRing; refs: number[] } => {
    const ps = dom.pages.allocMany(1 << order) as number[];
    const r = ps.map((p) => dom.grants.grantAccess(0, p, false));
    ringRefs.push(...r);
    const area = new RingArea(
      mem,
      ps.map((p) => p * PAGE_SIZE),
      entry,
    );
    return { ring: FrontRing.init(area), refs: r };
  };
  for (let q = 0; q < nq; q++) {
    const tx = ring(NETIF_TX_ENTRY_SIZE);
    const rx = ring(NETIF_RX_ENTRY_SIZE);
    const txPort = await dom.evtchnAllocUnbound(0);
    const rxPort = a.split ? await dom.evtchnAllocUnbound(0) : txPort;
    ports.push(txPort);
    if (rxPort !== txPort) ports.push(rxPort);
    fqs.push(
      dev.attachQueue(
        { backDomid: 0, queue: q, tx: tx.ring, rx: rx.ring, txPort, rxPort, features: FEATURES },
        (reason) => fatals.push(reason),
      ),
    );
    refs.push({ txRefs: tx.refs, rxRefs: rx.refs, txPort, rxPort });
  }
  const waitMsg = (t: string): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      dom.onMessage((from, data) => {
        const m = data as { t: string };
        if (from === 0 && m.t === t) resolve(m as Record<string, unknown>);
      });
    });
  const connected = waitMsg("connected");
  dom.post(0, {
    t: "connect",
    queues: refs,
    hostile: a.hostile,
    hold: a.scenario === "ringfull",
    ...(a.scenario === "rewrite" ? { rewrite: sync.buffer as SharedArrayBuffer } : {}),
  } satisfies ConnectMsg);
  await connected;
  for (const q of fqs) q.start();
  dev.carrierOn();

  const received: Received[] = [];
  let stable = 0;
  let rewritten = 0;
  dev.onReceive((b, off, len, flags) => {
    if (a.scenario === "rewrite") {
      // Hand over to the backend worker while the frame is being read, and wait for it to
      // have written over the pages it delivered into.
      const before = b.slice(off, off + len);
      const seen = Atomics.add(sync, SYNC_SEEN, 1) + 1;
      Atomics.notify(sync, SYNC_SEEN);
      if (Atomics.wait(sync, SYNC_REWRITTEN, seen - 1, 2000) !== "timed-out") rewritten++;
      let same = true;
      for (let i = 0; i < len; i++) if (b[off + i] !== before[i]) same = false;
      if (same) stable++;
    }
    received.push({
      seq: checkFrame(b, off, len),
      len,
      flags,
      gsoType: dev.rxMeta.gsoType,
      gsoSize: dev.rxMeta.gsoSize,
    });
  });
  let writable = 0;
  let wake: (() => void) | null = null;
  dev.onWritable(() => {
    writable++;
    wake?.();
  });
  /** The next writable call; rejects after 3 s, so a lost wake-up fails the test, not hangs it. */
  const writableOnce = (): Promise<void> =>
    new Promise((r, reject) => {
      const t = setTimeout(() => reject(new Error("no writable call within 3 s")), 3000);
      wake = () => {
        clearTimeout(t);
        wake = null;
        r();
      };
    });
  const until = async (ok: () => boolean, ms = 5000): Promise<boolean> => {
    const t0 = Date.now();
    while (!ok()) {
      if (Date.now() - t0 > ms) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
    return true;
  };
  const buf = new Uint8Array(65536);
  /** Sends frame `seq`, waiting for writable as long as the device pushes back. */
  const send = async (seq: number, f: TxFrame, frame: Uint8Array = buf): Promise<number> => {
    if (frame === buf) fillFrame(buf, 0, f.len, seq);
    let refused = 0;
    for (;;) {
      const w = writableOnce();
      if (dev.transmitGso(frame, f.len, f.flags, f.gso ?? 0, f.mss ?? 0)) {
        wake?.();
        w.catch(() => {});
        return refused;
      }
      refused++;
      await w;
    }
  };

  const result: Record<string, unknown> = { t: "result" };
  try {
    await scenario();
  } catch (e) {
    result.error = String(e);
  }
  async function scenario(): Promise<void> {
    if (a.scenario === "echo") {
      const frames = a.frames ?? [];
      for (let i = 0; i < frames.length; i++) await send(i, frames[i]);
      result.complete = await until(() => received.length >= frames.length);
    } else if (a.scenario === "ringfull") {
      const total = a.count ?? 600;
      let accepted = 0;
      fillFrame(buf, 0, 1000, 0);
      // Bounded: a device that never pushes back must fail the test, not spin.
      while (accepted < 5000 && dev.transmit(buf, 1000, 0)) fillFrame(buf, 0, 1000, ++accepted);
      result.acceptedBeforeFull = accepted;
      result.writableWhileHeld = writable;
      const w = writableOnce();
      dom.post(0, { t: "release" });
      await w;
      result.writableAfterRelease = writable;
      for (let i = accepted; i < total; i++) await send(i, { len: 1000, flags: 0 });
      result.complete = await until(() => received.length >= total);
      result.inOrder = received.every((r, i) => r.seq === i);
    } else if (a.scenario === "multiqueue") {
      const flows: { want: number; diff: number[] }[] = [];
      for (let f = 0; f < 32; f++) {
        const frame = udpFrame(200, 0x0a000001, 0x0a000002 + (f & 3), 1000 + f, 7);
        const before = fqs.map((_, q) => dev.counters(q)?.get("tx_packets") ?? 0);
        for (let i = 0; i < 10; i++) await send(i, { len: 200, flags: 0 }, frame);
        flows.push({
          want: flowHash(frame, 200) % nq,
          diff: fqs.map((_, q) => (dev.counters(q)?.get("tx_packets") ?? 0) - before[q]),
        });
      }
      result.flows = flows;
      result.complete = await until(() => received.length >= 320);
    } else if (a.scenario === "rewrite") {
      const frames = a.frames ?? [];
      for (let i = 0; i < frames.length; i++) {
        await send(i, frames[i]);
        // One frame at a time, so the backend rewrites the pages of the frame being read.
        await until(() => received.length > i, 3000);
      }
      result.complete = received.length === frames.length;
      result.stable = stable;
      result.rewritten = rewritten;
    } else if (a.scenario === "hostile") {
      const gso = a.hostile === "rxBadExtra" || a.hostile === "rxBadGso";
      let threw = "";
      try {
        for (let i = 0; i < 3; i++) {
          fillFrame(buf, 0, 100, i);
          dev.transmitGso(buf, 100, 0, gso ? 1 : 0, gso ? 50 : 0);
        }
        // A violation is fatal; a bad packet is dropped and counted (Linux's split).
        await until(() => fatals.length > 0 || (dev.counters(0)?.get("rx_errors") ?? 0) >= 3, 3000);
        // After a fatal, sending neither throws nor reaches the stopped queue; after drops
        // the queue goes on.
        fillFrame(buf, 0, 100, 9);
        result.sentAfterFatal = dev.transmit(buf, 100, 0);
      } catch (e) {
        threw = String(e);
      }
      await new Promise((r) => setTimeout(r, 20));
      result.threw = threw;
      result.badDelivered = received.filter((r) => r.seq < 0).length;
    }
  }
  result.received = received;
  result.fatals = fatals;
  result.counters = fqs.map((_, q) => dev.counters(q)?.snapshot());
  // Shared memory: the test reads the live counters from the main thread.
  result.counterBuffers = fqs.map((_, q) => dev.counters(q)?.buffer);
  const statsMsg = waitMsg("stats");
  dom.post(0, { t: "stats" });
  result.echo = (await statsMsg).stats;
  // Teardown: buffer grants first (the backend copies, it never keeps them mapped), then
  // the backend unmaps the rings, then the ring grants and the ports.
  result.notEnded = fqs.reduce((n, q) => n + q.close(), 0);
  result.liveAfterClose = dom.grants.liveGrants - ringRefs.length;
  const gone = waitMsg("disconnected");
  dom.post(0, { t: "disconnect" });
  result.backMappings = (await gone).liveMappings;
  result.ringsNotEnded = ringRefs.filter((r) => !dom.grants.endAccess(r)).length;
  for (const p of ports) await dom.evtchnClose(p);
  result.liveGrants = dom.grants.liveGrants;
  result.handlerErrors = dom.handlerErrors;
  dom.report(result);
}
