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
 *
 * What the ceiling does is the cheapest way Node's own socket has to send a datagram:
 * `send(buf, off, len, cb)` on a socket connected to the receiver (a send naming an
 * address costs Node a lookup and the kernel a route lookup each time), one preallocated
 * Buffer, the same batch per turn and socket buffer size; receiving, the `'message'` event
 * per datagram (Node allocates each one's Buffer), counted. The uplink's own socket is the
 * batched addon (native/udp.c: 64 datagrams per recvmmsg or sendmmsg, straight between the
 * kernel and the uplink's memory, no Buffer or callback per datagram), so it can pass that
 * ceiling: the socket, not pvnet, is then the limit. The `(node:dgram)` rows run the same
 * uplink on Node's socket (PVNET_UDP=dgram), a datagram per call as the ceiling makes
 * them, which measures pvnet's own work per packet (the guest port's ring, the switch, one
 * copy) on top of Node's. The guest row runs a real guest domain (bench/uplink-guest.ts):
 * netfront, netback and the switch are then in the path as well.
 *
 * Beside each rate, this process's CPU time per packet (the peers are processes of their
 * own): on a machine whose other load takes cores away mid-run the rates wander, while the
 * CPU a packet costs stays put, so `ofCeilingByCpu` (the ceiling's cost over the uplink's)
 * is the steadier ratio.
 */

import { fork } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { fileURLToPath } from "node:url";
import { ringHead, ringSlot, slotBufIdx, slotSetLen } from "../src/netmap/layout.js";
import type { NetmapPort } from "../src/netmap/port.js";
import { nmRingAdvance, nmRingSpace } from "../src/netmap/ring.js";
import { VxlanUplink } from "../src/uplink/vxlan/uplink.js";
import { ValePort } from "../src/vale/port.js";
import { ValeSwitch } from "../src/vale/switch.js";
import { type BenchOptions, type BenchRow, benchSession, gbpsOf, median } from "./result.js";
import { measureGuestTx } from "./uplink-guest.js";

const VNI = 42;
const BATCH = 64;
/**
 * Packets a warm-up moves at least, however long that takes (up to WARM_MAX_MS): the JIT
 * optimises the path by work done, not by time, and on a machine whose other load leaves
 * this process a fifth of a core a timed warm-up ended with pvnet's code not yet optimised
 * (measured: its CPU per packet then doubled while the bare socket's barely moved).
 */
const WARM_PACKETS = 100_000;
const WARM_MAX_MS = 10_000;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A VXLAN datagram holding a `frameBytes` broadcast frame from 02:00:00:00:00:01. */
function datagram(frameBytes: number): Uint8Array {
  const b = new Uint8Array(8 + frameBytes);
  b.set([0x08, 0, 0, 0, 0, 0, VNI, 0]);
  b.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 8);
  return b;
}

interface Peer {
  port: number;
  /** Datagrams the peer has received (count) or got onto its socket (blast). */
  count: () => Promise<number>;
  close: () => Promise<void>;
}

async function peer(
  mode: "count" | "blast",
  extra: { datagram?: Uint8Array; target?: number; batch?: number } = {},
): Promise<Peer> {
  const child = fork(fileURLToPath(new URL("./uplink-peer.js", import.meta.url)), [], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const next = (): Promise<Record<string, number>> =>
    new Promise((resolve, reject) => {
      child.once("message", (m) => resolve(m as Record<string, number>));
      child.once("error", reject);
    });
  const ready = next();
  child.send({
    mode,
    datagram: extra.datagram === undefined ? undefined : [...extra.datagram],
    target: extra.target,
    batch: extra.batch,
  });
  const { port } = await ready;
  return {
    port,
    count: async () => {
      const answer = next();
      child.send("count");
      return (await answer).count;
    },
    close: async () => {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill();
      await gone;
    },
  };
}

/**
 * Runs `step` every millisecond for `ms` without spinning in between, so the process's CPU
 * time is the receive work alone (a ring of 1024 holds far more than a millisecond's
 * frames at these rates).
 */
async function every(ms: number, step: () => void): Promise<number> {
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 1));
    step();
  }
  return performance.now() - t0;
}

interface Measured {
  tx: number;
  rx: number;
  cpuUs: number;
  userUs: number;
}

/**
 * Runs `step` for at least `ms` and until `count()` has grown by WARM_PACKETS (or
 * WARM_MAX_MS passed), with `run`'s pacing.
 */
async function warm(
  run: (ms: number, step: () => void) => Promise<number>,
  ms: number,
  step: () => void,
  count: () => number,
): Promise<void> {
  const c0 = count();
  const end = performance.now() + WARM_MAX_MS;
  await run(ms, step);
  while (count() - c0 < WARM_PACKETS && performance.now() < end) await run(50, step);
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
export async function measureTx(
  frameBytes: number,
  warmupMs: number,
  measureMs: number,
  bareFirst = false,
  socket: "native" | "dgram" = "native",
) {
  const rx = await peer("count");
  const sw = new ValeSwitch("valeb");
  const g = guestPort(sw);
  const u = await VxlanUplink.open(
    sw,
    {
      local: "127.0.0.1",
      port: await freeUdpPort(),
      vni: VNI,
      remotes: [`127.0.0.1:${rx.port}`],
      mtu: Math.max(1450, frameBytes - 14),
    },
    0,
    { socket },
  );
  const bare = createSocket({ type: "udp4", sendBufferSize: 4 << 20 });
  await new Promise<void>((r) => bare.bind(0, "127.0.0.1", r));
  await new Promise<void>((r) => bare.connect(rx.port, "127.0.0.1", r));
  const msg = Buffer.from(datagram(frameBytes));
  let sent = 0;
  const done = (): void => {
    sent++;
  };
  const blast = (): void => {
    for (let i = 0; i < BATCH; i++) bare.send(msg, 0, msg.length, done);
  };
  const c = u.adapter.counters;
  /**
   * Sends with `step` for the warm-up and the window: datagrams sent and received (Mpps),
   * and this process's CPU time per datagram sent (µs), which the machine's other load
   * disturbs far less than the rates.
   */
  const window = async (step: () => void, sentNow: () => number): Promise<Measured> => {
    await warm(drive, warmupMs, step, sentNow);
    const s0 = sentNow();
    const r0 = await rx.count();
    const cpu0 = process.cpuUsage();
    const ms = await drive(measureMs, step);
    const cpu = process.cpuUsage(cpu0);
    const sent = sentNow() - s0;
    const got = {
      tx: sent / ms / 1000,
      rx: ((await rx.count()) - r0) / ms / 1000,
      cpuUs: (cpu.user + cpu.system) / Math.max(1, sent),
      userUs: cpu.user / Math.max(1, sent),
    };
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

interface RxMeasured {
  mpps: number;
  cpuUs: number;
  userUs: number;
}

/** Frames per second (millions) a guest receives from the uplink under a blast. */
async function rxUplink(
  frameBytes: number,
  warmupMs: number,
  measureMs: number,
  socket: "native" | "dgram",
): Promise<RxMeasured> {
  const sw = new ValeSwitch("valec");
  const g = guestPort(sw);
  const port = await freeUdpPort();
  const u = await VxlanUplink.open(
    sw,
    {
      local: "127.0.0.1",
      port,
      vni: VNI,
      remotes: [],
      mtu: Math.max(1450, frameBytes - 14),
    },
    0,
    { socket },
  );
  const tx = await peer("blast", { datagram: datagram(frameBytes), target: port, batch: BATCH });
  try {
    let got = 0;
    const step = (): void => {
      got += drain(g);
    };
    await warm(every, warmupMs, step, () => got);
    got = 0;
    const cpu0 = process.cpuUsage();
    const ms = await every(measureMs, step);
    const cpu = process.cpuUsage(cpu0);
    return {
      mpps: got / ms / 1000,
      cpuUs: (cpu.user + cpu.system) / Math.max(1, got),
      userUs: cpu.user / Math.max(1, got),
    };
  } finally {
    await tx.close();
    await u.close();
  }
}

/** The same blast at a bare socket that only counts. */
async function rxBare(frameBytes: number, warmupMs: number, measureMs: number): Promise<RxMeasured> {
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
    await warm(
      every,
      warmupMs,
      () => {},
      () => n,
    );
    n = 0;
    const cpu0 = process.cpuUsage();
    const ms = await every(measureMs, () => {});
    const cpu = process.cpuUsage(cpu0);
    return {
      mpps: n / ms / 1000,
      cpuUs: (cpu.user + cpu.system) / Math.max(1, n),
      userUs: cpu.user / Math.max(1, n),
    };
  } finally {
    await tx.close();
    await new Promise<void>((r) => sink.close(() => r()));
  }
}

/** Both receive cases; `bareFirst` alternates their order between runs, so neither gains from going second. */
export async function measureRx(
  frameBytes: number,
  warmupMs: number,
  measureMs: number,
  bareFirst: boolean,
  socket: "native" | "dgram" = "native",
) {
  if (bareFirst) {
    const ceiling = await rxBare(frameBytes, warmupMs, measureMs);
    return { uplink: await rxUplink(frameBytes, warmupMs, measureMs, socket), ceiling };
  }
  const uplink = await rxUplink(frameBytes, warmupMs, measureMs, socket);
  return { uplink, ceiling: await rxBare(frameBytes, warmupMs, measureMs) };
}

export async function benchUplink(opts: BenchOptions): Promise<BenchRow[]> {
  const { runs, warmupMs, measureMs, rows, add } = benchSession(opts);
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);
  for (const frameBytes of [60, 1464]) {
    const tx: { uplink: Measured; ceiling: Measured }[] = [];
    const txDgram: { uplink: Measured; ceiling: Measured }[] = [];
    for (let i = 0; i < runs; i++) {
      tx.push(await measureTx(frameBytes, warmupMs, measureMs, i % 2 === 1));
      txDgram.push(await measureTx(frameBytes, warmupMs, measureMs, i % 2 === 0, "dgram"));
    }
    const ut = median(tx.map((x) => x.uplink.tx));
    const ct = median(tx.map((x) => x.ceiling.tx));
    const ucpu = median(tx.map((x) => x.uplink.cpuUs));
    const ccpu = median(tx.map((x) => x.ceiling.cpuUs));
    add({
      name: "bare Node UDP send (ceiling)",
      frameBytes,
      batch: BATCH,
      mpps: ct,
      gbps: gbpsOf(ct, frameBytes),
      receivedMpps: median(tx.map((x) => x.ceiling.rx)),
      cpuUsPerPacket: ccpu,
      userUsPerPacket: median(tx.map((x) => x.ceiling.userUs)),
    });
    add({
      name: "guest -> VALE -> VXLAN uplink send",
      frameBytes,
      batch: BATCH,
      mpps: ut,
      gbps: gbpsOf(ut, frameBytes),
      receivedMpps: median(tx.map((x) => x.uplink.rx)),
      cpuUsPerPacket: ucpu,
      userUsPerPacket: median(tx.map((x) => x.uplink.userUs)),
      ofCeiling: ratio(ut, ct),
      ofCeilingByCpu: ratio(ccpu, ucpu),
    });
    add(dgramRow("guest -> VALE -> VXLAN uplink send (node:dgram)", frameBytes, txDgram));
    const guest: { mpps: number; cpuUs: number }[] = [];
    for (let i = 0; i < runs; i++) {
      const counter = await peer("count");
      try {
        guest.push(await measureGuestTx(frameBytes, warmupMs, measureMs, counter, await freeUdpPort()));
      } finally {
        await counter.close();
      }
    }
    const gm = median(guest.map((g) => g.mpps));
    const gcpu = median(guest.map((g) => g.cpuUs));
    add({
      name: "guest vif -> netback -> VALE -> VXLAN uplink send",
      frameBytes,
      batch: 0,
      mpps: gm,
      gbps: gbpsOf(gm, frameBytes),
      receivedMpps: gm,
      cpuUsPerPacket: gcpu,
      ofCeiling: ratio(gm, ct),
      // Both flows as the counting receiver saw them: the bare sender's rate above is what it
      // got onto its socket, of which loopback drops what the counter cannot read in time.
      ofCeilingReceived: ratio(gm, median(tx.map((x) => x.ceiling.rx))),
      ofCeilingByCpu: ratio(ccpu, gcpu),
    });
    const rx: { uplink: RxMeasured; ceiling: RxMeasured }[] = [];
    const rxDgram: { uplink: RxMeasured; ceiling: RxMeasured }[] = [];
    for (let i = 0; i < runs; i++) {
      rx.push(await measureRx(frameBytes, warmupMs, measureMs, i % 2 === 1));
      rxDgram.push(await measureRx(frameBytes, warmupMs, measureMs, i % 2 === 0, "dgram"));
    }
    const ur = median(rx.map((x) => x.uplink.mpps));
    const cr = median(rx.map((x) => x.ceiling.mpps));
    const urcpu = median(rx.map((x) => x.uplink.cpuUs));
    const crcpu = median(rx.map((x) => x.ceiling.cpuUs));
    add({
      name: "bare Node UDP receive (ceiling)",
      frameBytes,
      batch: BATCH,
      mpps: cr,
      gbps: gbpsOf(cr, frameBytes),
      cpuUsPerPacket: crcpu,
      userUsPerPacket: median(rx.map((x) => x.ceiling.userUs)),
    });
    add({
      name: "VXLAN uplink receive -> VALE -> guest",
      frameBytes,
      batch: BATCH,
      mpps: ur,
      gbps: gbpsOf(ur, frameBytes),
      cpuUsPerPacket: urcpu,
      userUsPerPacket: median(rx.map((x) => x.uplink.userUs)),
      ofCeiling: ratio(ur, cr),
      ofCeilingByCpu: ratio(crcpu, urcpu),
    });
    add(
      dgramRow(
        "VXLAN uplink receive -> VALE -> guest (node:dgram)",
        frameBytes,
        rxDgram.map((x) => ({
          uplink: { tx: x.uplink.mpps, cpuUs: x.uplink.cpuUs, userUs: x.uplink.userUs },
          ceiling: { tx: x.ceiling.mpps, cpuUs: x.ceiling.cpuUs, userUs: x.ceiling.userUs },
        })),
      ),
    );
  }
  return rows;
}

/**
 * The uplink on Node's dgram socket (a datagram per call, PVNET_UDP=dgram), against the
 * ceiling measured beside it in the same runs.
 */
function dgramRow(
  name: string,
  frameBytes: number,
  runs: { uplink: Pick<Measured, "tx" | "cpuUs" | "userUs">; ceiling: Pick<Measured, "tx" | "cpuUs"> }[],
): BenchRow {
  const u = median(runs.map((x) => x.uplink.tx));
  const c = median(runs.map((x) => x.ceiling.tx));
  const ucpu = median(runs.map((x) => x.uplink.cpuUs));
  const ccpu = median(runs.map((x) => x.ceiling.cpuUs));
  return {
    name,
    frameBytes,
    batch: BATCH,
    mpps: u,
    gbps: gbpsOf(u, frameBytes),
    cpuUsPerPacket: ucpu,
    userUsPerPacket: median(runs.map((x) => x.uplink.userUs)),
    ofCeiling: c > 0 ? u / c : 0,
    ofCeilingByCpu: ucpu > 0 ? ccpu / ucpu : 0,
  };
}
