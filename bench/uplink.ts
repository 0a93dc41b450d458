/**
 * `pvnet bench uplink`: the VXLAN uplink's rate on loopback, against the ceiling any Node
 * process has, a bare dgram socket, measured in the same run with the same datagrams.
 *
 * TX: a guest's port on a VALE switch sends `batch` frames per event-loop turn; the switch
 * forwards them to the uplink, which encapsulates and sends each one to a counting socket
 * in another thread. Ceiling: this thread sends the same datagrams from a bare socket, in
 * the same batches per turn, to the same counter. The figure is datagrams the sender got
 * onto the socket per second; the receiver's count is shown beside it (loopback drops
 * what the receiving thread cannot read in time).
 *
 * RX: a bare socket in another thread blasts VXLAN datagrams at the uplink; the guest's
 * port drains its RX ring every turn. Ceiling: the same blast at a bare socket that only
 * counts. The figure is frames the guest received per second.
 */
import { createSocket, type Socket } from "node:dgram";
import { Worker } from "node:worker_threads";
import { ringHead, ringSlot, slotBufIdx, slotSetLen } from "../src/netmap/layout.js";
import type { NetmapPort } from "../src/netmap/port.js";
import { nmRingAdvance, nmRingSpace } from "../src/netmap/ring.js";
import { VxlanUplink } from "../src/uplink/vxlan/uplink.js";
import { ValePort } from "../src/vale/port.js";
import { ValeSwitch } from "../src/vale/switch.js";
import { type BenchOptions, type BenchRow, benchSession, gbpsOf, median } from "./result.js";

const VNI = 42;
const BATCH = 64;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A VXLAN datagram holding a `frameBytes` broadcast frame from 02:00:00:00:00:01. */
function datagram(frameBytes: number): Uint8Array {
  const b = new Uint8Array(8 + frameBytes);
  b.set([0x08, 0, 0, 0, 0, 0, VNI, 0]);
  b.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 8);
  return b;
}

interface Peer {
  worker: Worker;
  port: number;
  f: Float64Array;
  close: () => Promise<void>;
}

async function peer(mode: "count" | "blast", extra: Record<string, unknown> = {}): Promise<Peer> {
  const ctl = new SharedArrayBuffer(24);
  const worker = new Worker(new URL("./uplink-peer.js", import.meta.url), {
    workerData: { mode, ctl, ...extra },
  });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  const f = new Float64Array(ctl);
  return {
    worker,
    port,
    f,
    close: async () => {
      f[2] = 1;
      await worker.terminate();
    },
  };
}

/** Runs `step` once per turn for `ms`; returns the time it took. */
async function drive(ms: number, step: () => void): Promise<number> {
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    step();
    await turn();
  }
  return performance.now() - t0;
}

/** Puts up to `n` frames of `len` bytes on p's TX ring and syncs. */
function send(p: NetmapPort, n: number, len: number): void {
  const m = p.mem;
  const r = p.tx[0].r;
  const k = Math.min(n, nmRingSpace(m, r));
  let h = ringHead(m, r);
  for (let i = 0; i < k; i++) {
    slotSetLen(m, ringSlot(r, h), len);
    h = h + 1 === p.tx[0].numSlots ? 0 : h + 1;
  }
  nmRingAdvance(m, r, h);
  p.txsync();
}

/** Releases everything on p's RX ring; returns the frames. */
function drain(p: NetmapPort): number {
  p.rxsync();
  const m = p.mem;
  const r = p.rx[0].r;
  const n = nmRingSpace(m, r);
  if (n > 0) nmRingAdvance(m, r, (ringHead(m, r) + n) % p.rx[0].numSlots);
  return n;
}

/** A guest port whose every TX buffer holds a broadcast frame from 02:..:02. */
function guestPort(sw: ValeSwitch): NetmapPort {
  const p = new ValePort(sw, `${sw.name}:guest`, 1024).open();
  const m = p.mem;
  for (let i = 0; i < p.tx[0].numSlots; i++) {
    const off = p.region.bufOff(slotBufIdx(m, ringSlot(p.tx[0].r, i)));
    m.u8.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x00], off);
  }
  return p;
}

async function freeUdpPort(): Promise<number> {
  const s: Socket = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Both send cases against one counting receiver; `bareFirst` alternates their order between runs. */
export async function measureTx(frameBytes: number, warmupMs: number, measureMs: number, bareFirst = false) {
  const rx = await peer("count");
  const sw = new ValeSwitch("valeb");
  const g = guestPort(sw);
  const u = await VxlanUplink.open(sw, {
    local: "127.0.0.1",
    port: await freeUdpPort(),
    vni: VNI,
    remotes: [`127.0.0.1:${rx.port}`],
    mtu: Math.max(1450, frameBytes - 14),
  });
  const bare = createSocket({ type: "udp4", sendBufferSize: 4 << 20 });
  await new Promise<void>((r) => bare.bind(0, "127.0.0.1", r));
  const msg = Buffer.from(datagram(frameBytes));
  let sent = 0;
  const done = (): void => {
    sent++;
  };
  const blast = (): void => {
    for (let i = 0; i < BATCH; i++) bare.send(msg, 0, msg.length, rx.port, "127.0.0.1", done);
  };
  const c = u.adapter.counters;
  /** Sends with `step` for the warm-up and the window; datagrams sent and received, Mpps. */
  const window = async (step: () => void, sentNow: () => number): Promise<{ tx: number; rx: number }> => {
    await drive(warmupMs, step);
    const s0 = sentNow();
    const r0 = rx.f[0];
    const ms = await drive(measureMs, step);
    const got = { tx: (sentNow() - s0) / ms / 1000, rx: (rx.f[0] - r0) / ms / 1000 };
    await turn();
    return got;
  };
  const viaUplink = () =>
    window(
      () => send(g, BATCH, frameBytes),
      () => c.get("tx_packets"),
    );
  const viaBare = () => window(blast, () => sent);
  try {
    if (bareFirst) {
      const ceiling = await viaBare();
      return { uplink: await viaUplink(), ceiling };
    }
    const uplink = await viaUplink();
    return { uplink, ceiling: await viaBare() };
  } finally {
    await u.close();
    await new Promise<void>((r) => bare.close(() => r()));
    await rx.close();
  }
}

/** Frames per second (millions) a guest receives from the uplink under a blast. */
async function rxUplink(frameBytes: number, warmupMs: number, measureMs: number): Promise<number> {
  const sw = new ValeSwitch("valec");
  const g = guestPort(sw);
  const port = await freeUdpPort();
  const u = await VxlanUplink.open(sw, {
    local: "127.0.0.1",
    port,
    vni: VNI,
    remotes: [],
    mtu: Math.max(1450, frameBytes - 14),
  });
  const tx = await peer("blast", { datagram: datagram(frameBytes), target: port, batch: BATCH });
  try {
    let got = 0;
    const step = (): void => {
      got += drain(g);
    };
    await drive(warmupMs, step);
    got = 0;
    const ms = await drive(measureMs, step);
    return got / ms / 1000;
  } finally {
    await tx.close();
    await u.close();
  }
}

/** The same blast at a bare socket that only counts. */
async function rxBare(frameBytes: number, warmupMs: number, measureMs: number): Promise<number> {
  const sink = createSocket({ type: "udp4", recvBufferSize: 4 << 20 });
  await new Promise<void>((r) => sink.bind(0, "127.0.0.1", r));
  let n = 0;
  sink.on("message", () => {
    n++;
  });
  const tx = await peer("blast", {
    datagram: datagram(frameBytes),
    target: sink.address().port,
    batch: BATCH,
  });
  try {
    await drive(warmupMs, () => {});
    n = 0;
    const ms = await drive(measureMs, () => {});
    return n / ms / 1000;
  } finally {
    await tx.close();
    await new Promise<void>((r) => sink.close(() => r()));
  }
}

/** Both receive cases; `bareFirst` alternates their order between runs, so neither gains from going second. */
export async function measureRx(frameBytes: number, warmupMs: number, measureMs: number, bareFirst: boolean) {
  if (bareFirst) {
    const ceiling = await rxBare(frameBytes, warmupMs, measureMs);
    return { uplink: await rxUplink(frameBytes, warmupMs, measureMs), ceiling };
  }
  const uplink = await rxUplink(frameBytes, warmupMs, measureMs);
  return { uplink, ceiling: await rxBare(frameBytes, warmupMs, measureMs) };
}

export async function benchUplink(opts: BenchOptions): Promise<BenchRow[]> {
  const { runs, warmupMs, measureMs, rows, add } = benchSession(opts);
  for (const frameBytes of [60, 1464]) {
    const tx: { uplink: { tx: number; rx: number }; ceiling: { tx: number; rx: number } }[] = [];
    for (let i = 0; i < runs; i++) tx.push(await measureTx(frameBytes, warmupMs, measureMs, i % 2 === 1));
    const ut = median(tx.map((x) => x.uplink.tx));
    const ct = median(tx.map((x) => x.ceiling.tx));
    add({
      name: "bare Node UDP send (ceiling)",
      frameBytes,
      batch: BATCH,
      mpps: ct,
      gbps: gbpsOf(ct, frameBytes),
      receivedMpps: median(tx.map((x) => x.ceiling.rx)),
    });
    add({
      name: "guest -> VALE -> VXLAN uplink send",
      frameBytes,
      batch: BATCH,
      mpps: ut,
      gbps: gbpsOf(ut, frameBytes),
      receivedMpps: median(tx.map((x) => x.uplink.rx)),
      ofCeiling: ct > 0 ? ut / ct : 0,
    });
    const rx: { uplink: number; ceiling: number }[] = [];
    for (let i = 0; i < runs; i++) rx.push(await measureRx(frameBytes, warmupMs, measureMs, i % 2 === 1));
    const ur = median(rx.map((x) => x.uplink));
    const cr = median(rx.map((x) => x.ceiling));
    add({
      name: "bare Node UDP receive (ceiling)",
      frameBytes,
      batch: BATCH,
      mpps: cr,
      gbps: gbpsOf(cr, frameBytes),
    });
    add({
      name: "VXLAN uplink receive -> VALE -> guest",
      frameBytes,
      batch: BATCH,
      mpps: ur,
      gbps: gbpsOf(ur, frameBytes),
      ofCeiling: cr > 0 ? ur / cr : 0,
    });
  }
  return rows;
}
