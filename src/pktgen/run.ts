/**
 * pkt-gen's loops over pvnet netmap ports, several instances cooperating in one thread
 * (VALE switches and their ports live in one thread for now). TX fills up to a burst of
 * free slots and syncs; RX polls (event-driven), reads and releases; txseq/rxseq carry and
 * check a big-endian sequence number at offset 42; ping/pong measure round trips with an
 * HDR histogram. Every instance yields to the others at least once a millisecond.
 */
import * as hdr from "hdr-histogram-js";
import type { Counters } from "../base/counters.js";
import type { NetmapContext } from "../netmap/context.js";
import {
  NETMAP_BUF_RESERVED,
  ringHead,
  ringSlot,
  ringTail,
  slotBufIdx,
  slotLen,
  slotSetLen,
} from "../netmap/layout.js";
import { MonitorAdapter } from "../netmap/monitor.js";
import type { NetmapPort } from "../netmap/port.js";
import { nmRingAdvance, nmRingSpace, nmTxPending } from "../netmap/ring.js";
import { formatMac } from "../wire/net/ethernet.js";
import { formatIpv4 } from "../wire/net/ipv4.js";
import { udpFillChecksum } from "../wire/net/udp.js";
import { answerArp } from "./arp-answer.js";
import { AddrCycler, buildFrame, hexdump, PKT_SEQ_OFF, PKT_TS_OFF } from "./frame.js";
import type { PktGenOptions } from "./options.js";
import { loadPcapFrames } from "./pcap-source.js";
import { isMonitorSpec, openForPktGen } from "./port-errors.js";
import { dropsLine, finalLines, intervalLine, monitorDropsLine, type Totals } from "./report.js";

export interface PktGenResult {
  port: string;
  fn: string;
  packets: number;
  bytes: number;
  seconds: number;
  gaps: number;
  outOfOrder: number;
  /** Slots whose buffer index or length another thread had made impossible: skipped. */
  badSlots: number;
  /**
   * Packets the switch dropped on their way to this receiver (its RX ring full), or for a
   * monitor the copies its full ring could not take; null: a port that counts no drops.
   */
  drops: number | null;
  rtt: { count: number; minNs: number; meanNs: number; p50Ns: number; p99Ns: number } | null;
}

export interface RunOptions {
  out: (line: string) => void;
  /** Stops every instance after this long (pvnet's --for). */
  stopAfterMs?: number;
  signal?: AbortSignal;
}

/** Where a receiver's drops are counted, and how its closing line says them. */
export interface DropCounter {
  read(): number;
  line(drops: number, port: string): string;
}

export interface InstanceExtras {
  drops?: DropCounter;
  /**
   * True once another instance reached its -n count: senders stop; receivers stop once a
   * poll brings nothing more, so what was in flight to them is counted.
   */
  winding?: () => boolean;
  /** When --for ends the run (performance.now() time): the measured time ends there too. */
  deadline?: number;
}

/**
 * The longest a loop waits in poll or between paced bursts before it looks at `stopped`
 * again: --for and Ctrl-C end a run within this, not a report interval later.
 */
const CHECK_MS = 50;
/** How long a sender waits at its end for its TX ring to drain. */
const DRAIN_MS = 1000;

const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const napWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * Waits until `at` (performance.now() time): timers for the coarse part; the last
 * millisecond by blocking this thread (Atomics.wait) when it runs this instance alone,
 * else by yielding to the other instances in it.
 */
async function pace(at: number, shared: boolean): Promise<void> {
  const left = at - performance.now();
  if (left > 2) await sleep(Math.min(left - 1.5, CHECK_MS));
  else if (shared) await yieldTurn();
  else Atomics.wait(napWord, 0, 0, Math.max(0, left));
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runPktGen(
  ctx: NetmapContext,
  all: PktGenOptions[],
  ro: RunOptions,
): Promise<PktGenResult[]> {
  // A -P file that cannot be replayed stops the run before any instance starts.
  for (const o of all) if (o.pcap !== null) loadPcapFrames(o.pcap);
  const ports = openAll(ctx, all);
  const deadline =
    ro.stopAfterMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + ro.stopAfterMs;
  // An instance that fails stops the others: the run's promise rejects with its error, and
  // nothing should go on sending into a run that has already failed.
  let failed = false;
  const stopped = (): boolean => failed || ro.signal?.aborted === true || performance.now() >= deadline;
  // The first instance given -n to finish ends the run: its partner (a pong for its ping,
  // a receiver for its sender) has nothing more coming and would otherwise run for ever.
  let ended = false;
  const winding = (): boolean => ended;
  return Promise.all(
    all.map(async (o, i) => {
      const say = all.length > 1 ? (l: string) => ro.out(`[${i}] ${l}`) : ro.out;
      try {
        return await runInstance(ports[i], o, say, stopped, all.length > 1, {
          drops: portDrops(ports[i]),
          winding,
          deadline,
        });
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        if (o.count > 0) ended = true;
      }
    }),
  );
}

/**
 * Opens every instance's port; a port's rings are bound once, as in netmapd (EBUSY), and a
 * missing interface gets netmapd's message, so both modes answer alike. Monitors are
 * opened after the other ports, so a monitor given before its port on the command line
 * finds it (no instance runs before every port is open, so none misses a packet).
 */
function openAll(ctx: NetmapContext, all: PktGenOptions[]): NetmapPort[] {
  const bound = new Set<string>();
  const ports: NetmapPort[] = new Array(all.length);
  const order = [...all.keys()].sort(
    (a, b) => Number(isMonitorSpec(all[a].port)) - Number(isMonitorSpec(all[b].port)),
  );
  try {
    for (const i of order) ports[i] = openForPktGen(ctx, all[i].port, bound);
  } catch (e) {
    for (const p of ports) p?.close();
    throw e;
  }
  return ports;
}

/**
 * Where the receive side of `port` counts its drops: a switch port's `rxDrops` (its RX ring
 * was full), a monitor's `drops` (copies its ring could not take); undefined for others.
 */
function portDrops(port: NetmapPort): DropCounter | undefined {
  const a = port.adapter;
  if (a instanceof MonitorAdapter) return { read: () => a.counters.get("drops"), line: monitorDropsLine };
  const c = (a as { counters?: Counters }).counters;
  if (c === undefined || !c.names.includes("rxDrops")) return undefined;
  return { read: () => c.get("rxDrops"), line: dropsLine };
}

/**
 * One pkt-gen instance on a bound port (a thread of netmap's pkt-gen). `shared`: other
 * instances run in this thread, so yield after every burst.
 */
export async function runInstance(
  port: NetmapPort,
  o: PktGenOptions,
  say: (l: string) => void,
  stopped: () => boolean,
  shared: boolean,
  extras: InstanceExtras = {},
): Promise<PktGenResult> {
  const counter = extras.drops;
  const winding = extras.winding ?? (() => false);
  const sending = o.fn === "tx" || o.fn === "txseq" || o.fn === "ping";
  const receiving = o.fn === "rx" || o.fn === "rxseq" || o.fn === "pong";
  // Before the first line, so a file that cannot be read is the only thing said.
  const frames = sending && o.pcap !== null ? loadPcapFrames(o.pcap) : null;
  say(
    `${sending ? "Sending on" : "Receiving from"} ${o.port}: ${port.tx.length || port.rx.length} queues, 1 threads and 1 cpus.`,
  );
  if (sending && o.pcap === null)
    say(
      `${range(o.srcIp, o.srcIpEnd, o.srcPort, o.srcPortEnd)} -> ${range(o.dstIp, o.dstIpEnd, o.dstPort, o.dstPortEnd)} (${formatMac(o.srcMac)} -> ${formatMac(o.dstMac)})`,
    );
  if (frames !== null) say(`Replaying ${frames.length} packets from ${o.pcap}`);
  if (o.verbose > 0) {
    const t = port.tx[0];
    const r = port.rx[0];
    say(
      `${o.port}: tx ring ${t?.numSlots ?? 0} slots, rx ring ${r?.numSlots ?? 0} slots, ${port.region.bufSize} byte buffers, burst ${o.burst}, report every ${o.reportMs} ms`,
    );
  }
  const drops0 = counter?.read() ?? 0;
  if (o.wait > 0) await sleep(o.wait * 1000);
  const st = newState();
  const t0 = performance.now();
  const tick = setInterval(() => report(st, o, say), o.reportMs);
  let rtt: PktGenResult["rtt"] = null;
  try {
    const halt = (): boolean => stopped() || winding();
    if (o.fn === "tx" || o.fn === "txseq") await txLoop(port, o, st, halt, shared, frames, say);
    else if (o.fn === "rx" || o.fn === "rxseq") await rxLoop(port, o, st, stopped, winding, say);
    else if (o.fn === "pong") await pongLoop(port, o, st, stopped, winding);
    else rtt = await pingLoop(port, o, st, halt, say);
  } finally {
    clearInterval(tick);
  }
  // -W: the idle interval that ended the run is not part of the measured time.
  // --for: a receiver notices the end at its next poll, up to CHECK_MS later; that wait is
  // not part of the measured time either.
  const end =
    o.exitOnIdle && st.lastRxAt > 0
      ? st.lastRxAt
      : Math.min(performance.now(), extras.deadline ?? Number.POSITIVE_INFINITY);
  // A receiver's clock starts at its first packet, as pkt-gen's receiver_body does.
  const begin = (o.fn === "rx" || o.fn === "rxseq") && st.firstRxAt > 0 ? st.firstRxAt : t0;
  const seconds = (end - begin) / 1000;
  const len = frames === null ? o.len : Math.round(st.total.bytes / Math.max(1, st.total.packets));
  for (const l of finalLines(sending, st.total, len, seconds, o.raw)) say(l);
  const drops = receiving && counter !== undefined ? counter.read() - drops0 : null;
  if (drops !== null && counter !== undefined) say(counter.line(drops, o.port));
  if (st.badSlots > 0) say(`Skipped ${st.badSlots} slots with an impossible buffer index or length`);
  return {
    port: o.port,
    fn: o.fn,
    ...st.total,
    seconds,
    gaps: st.gaps,
    outOfOrder: st.outOfOrder,
    badSlots: st.badSlots,
    drops,
    rtt,
  };
}

interface State {
  total: Totals;
  last: Totals;
  lastAt: number;
  minSpace: number;
  gaps: number;
  outOfOrder: number;
  badSlots: number;
  lastRxAt: number;
  /** When the first packet arrived (0: none yet). */
  firstRxAt: number;
}

function newState(): State {
  return {
    total: { packets: 0, bytes: 0, events: 0 },
    last: { packets: 0, bytes: 0, events: 0 },
    lastAt: performance.now(),
    minSpace: Number.POSITIVE_INFINITY,
    gaps: 0,
    outOfOrder: 0,
    badSlots: 0,
    lastRxAt: 0,
    firstRxAt: 0,
  };
}

function report(st: State, o: PktGenOptions, say: (l: string) => void): void {
  const now = performance.now();
  const d = {
    packets: st.total.packets - st.last.packets,
    bytes: st.total.bytes - st.last.bytes,
    events: st.total.events - st.last.events,
  };
  say(intervalLine(d, (now - st.lastAt) * 1000, Number.isFinite(st.minSpace) ? st.minSpace : 0, o.raw));
  st.last = { ...st.total };
  st.lastAt = now;
  st.minSpace = Number.POSITIVE_INFINITY;
}

/** What tx puts in its slots: the template frame, or -P's frames in turn; -s/-d ranges; -X. */
interface TxSource {
  frames: readonly Uint8Array[];
  next: number;
  cycler: AddrCycler | null;
  dump: ((off: number, len: number, slot: number) => void) | null;
}

/**
 * The byte offset of a slot's buffer, or -1 when the index or `len` is impossible: the
 * other end of a pipe shares the region and may rewrite any slot (docs/trust.md).
 */
function slotBuf(port: NetmapPort, idx: number, len: number): number {
  const r = port.region;
  return idx < NETMAP_BUF_RESERVED || idx >= r.nBufs || len > r.bufSize ? -1 : r.bufOff(idx);
}

/** Puts `n` frames on the TX ring (txseq: numbered from `seq`); returns the bytes queued. */
function fill(port: NetmapPort, src: TxSource, n: number, seq: { v: number }, numbered: boolean): number {
  const m = port.mem;
  const k = port.tx[0];
  let h = ringHead(m, k.r);
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const s = ringSlot(k.r, h);
    const frame = src.frames[src.next]!;
    src.next = src.next + 1 === src.frames.length ? 0 : src.next + 1;
    const len = frame.length;
    const off = slotBuf(port, slotBufIdx(m, s), len);
    if (off < 0) {
      slotSetLen(m, s, 0);
      h = h + 1 === k.numSlots ? 0 : h + 1;
      continue;
    }
    m.u8.set(frame, off);
    if (src.cycler !== null) src.cycler.stamp(m, off);
    if (numbered) m.dv.setUint32(off + PKT_SEQ_OFF, seq.v);
    seq.v = (seq.v + 1) >>> 0;
    slotSetLen(m, s, len);
    src.dump?.(off, len, h);
    bytes += len;
    h = h + 1 === k.numSlots ? 0 : h + 1;
  }
  nmRingAdvance(m, k.r, h);
  return bytes;
}

async function txLoop(
  port: NetmapPort,
  o: PktGenOptions,
  st: State,
  stopped: () => boolean,
  shared: boolean,
  frames: Uint8Array[] | null,
  say: (l: string) => void,
): Promise<void> {
  const src: TxSource = {
    frames: frames ?? [buildFrame(o)],
    next: 0,
    cycler: frames === null && AddrCycler.needed(o) ? new AddrCycler(o) : null,
    dump: o.dump ? (off, len, slot) => hexdump(port.mem.u8, off, len, `tx slot ${slot}`, say) : null,
  };
  const r = port.tx[0].r;
  const seq = { v: 0 };
  let lastYield = performance.now();
  const start = performance.now();
  while (!stopped() && (o.count === 0 || st.total.packets < o.count)) {
    const room = nmRingSpace(port.mem, r);
    let n = Math.min(room, o.burst);
    if (o.count > 0) n = Math.min(n, o.count - st.total.packets);
    if (n === 0) {
      await port.poll({ tx: true }, CHECK_MS); // reclaims, or waits for room
      lastYield = performance.now();
      continue;
    }
    if (o.rate > 0) {
      // -R: a burst goes out when it is due, as pkt-gen paces its bursts, not in clumps
      // after a coarse sleep.
      const dueAt = start + ((st.total.packets + n) / o.rate) * 1000;
      if (performance.now() < dueAt) {
        await pace(dueAt, shared);
        lastYield = performance.now();
        continue;
      }
    }
    const bytes = fill(port, src, n, seq, o.fn === "txseq");
    port.txsync();
    st.total.packets += n;
    st.total.bytes += bytes;
    st.total.events++;
    // Receivers in this thread get their turn after every burst (in netmap they run in
    // other processes); alone, yield once a millisecond for timers.
    const now = performance.now();
    if (shared || now - lastYield > 1) {
      lastYield = now;
      await yieldTurn();
    }
  }
  port.txsync();
  // As netmap's pkt-gen, wait for the TX ring to drain before the final report: a port
  // served by another thread (netmapd's VALE, a pipe) has not taken the last burst yet.
  // Bounded, since a pipe whose reader quit never drains.
  const until = performance.now() + DRAIN_MS;
  while (!stopped() && nmTxPending(port.mem, r) && performance.now() < until) {
    await new Promise((res) => setTimeout(res, 1));
    port.txsync();
  }
}

/** Reads and releases everything waiting; calls `each(off, len)` per packet. */
function drain(port: NetmapPort, st: State, each: (off: number, len: number) => void): number {
  const m = port.mem;
  const k = port.rx[0];
  const n = nmRingSpace(m, k.r);
  if (n < st.minSpace) st.minSpace = n;
  let h = ringHead(m, k.r);
  for (let i = 0; i < n; i++) {
    const s = ringSlot(k.r, h);
    const len = slotLen(m, s);
    const off = slotBuf(port, slotBufIdx(m, s), len);
    if (off < 0) st.badSlots++;
    else each(off, len);
    st.total.bytes += len;
    h = h + 1 === k.numSlots ? 0 : h + 1;
  }
  nmRingAdvance(m, k.r, h);
  st.total.packets += n;
  if (n > 0) {
    st.total.events++;
    st.lastRxAt = performance.now();
    if (st.firstRxAt === 0) st.firstRxAt = st.lastRxAt;
  }
  return n;
}

async function rxLoop(
  port: NetmapPort,
  o: PktGenOptions,
  st: State,
  stopped: () => boolean,
  winding: () => boolean,
  say: (l: string) => void,
): Promise<void> {
  const dv = port.mem.dv;
  let expect = 0;
  const check = (off: number): void => {
    const seq = dv.getUint32(off + PKT_SEQ_OFF);
    if (seq === expect) {
      expect = (seq + 1) >>> 0;
      return;
    }
    if (((seq - expect) | 0) > 0) {
      st.gaps++;
      if (st.gaps <= 5) say(`Sequence GAP: exp ${expect} found ${seq}`);
    } else {
      st.outOfOrder++;
      if (st.outOfOrder <= 5) say(`OUT OF ORDER: exp ${expect} found ${seq}`);
    }
    expect = (seq + 1) >>> 0;
  };
  const seqCheck = o.fn === "rxseq" ? check : () => {};
  const u8 = port.mem.u8;
  const each = o.dump
    ? (off: number, len: number) => {
        hexdump(u8, off, len, `rx ${o.port}`, say);
        seqCheck(off);
      }
    : seqCheck;
  const since = performance.now();
  while (!stopped() && (o.count === 0 || st.total.packets < o.count)) {
    const ready = await port.poll({ rx: true }, Math.min(o.reportMs, CHECK_MS));
    if (!ready.rx) {
      if (winding()) break;
      // -W: a whole report interval without a packet, as pkt-gen's poll timeout.
      const quietFor = performance.now() - (st.lastRxAt > 0 ? st.lastRxAt : since);
      if (o.exitOnIdle && st.total.packets > 0 && quietFor >= o.reportMs) break;
      continue;
    }
    drain(port, st, each);
  }
}

async function pongLoop(
  port: NetmapPort,
  o: PktGenOptions,
  st: State,
  stopped: () => boolean,
  winding: () => boolean,
): Promise<void> {
  const m = port.mem;
  const tx = port.tx[0];
  while (!stopped() && (o.count === 0 || st.total.packets < o.count)) {
    const ready = await port.poll({ rx: true }, Math.min(o.reportMs, CHECK_MS));
    if (!ready.rx) {
      if (winding()) break;
      continue;
    }
    let h = ringHead(m, tx.r);
    drain(port, st, (off, len) => {
      if (ringTail(m, tx.r) === h) return; // no TX room: this one is lost, as in pkt-gen
      const s = ringSlot(tx.r, h);
      const dst = slotBuf(port, slotBufIdx(m, s), len);
      if (dst < 0) {
        st.badSlots++;
        return;
      }
      m.u8.copyWithin(dst, off, off + len);
      // Echo: swap MACs and IPs.
      m.u8.copyWithin(dst, off + 6, off + 12);
      m.u8.copyWithin(dst + 6, off, off + 6);
      m.u8.copyWithin(dst + 26, off + 30, off + 34);
      m.u8.copyWithin(dst + 30, off + 26, off + 30);
      slotSetLen(m, s, len);
      h = h + 1 === tx.numSlots ? 0 : h + 1;
    });
    nmRingAdvance(m, tx.r, h);
    port.txsync();
  }
}

/**
 * ping: one packet at a time, its echo awaited up to a second. Its totals count what it
 * sent (as netmap's pkt-gen counts them), so a ping with no responder still says what went
 * out; RTT lines are printed only over echoes that came back.
 */
async function pingLoop(
  port: NetmapPort,
  o: PktGenOptions,
  st: State,
  stopped: () => boolean,
  say: (l: string) => void,
): Promise<PktGenResult["rtt"]> {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60e9,
    numberOfSignificantValueDigits: 3,
  });
  const frame = buildFrame(o);
  const m = port.mem;
  const dv = m.dv;
  const r = port.tx[0].r;
  // Echoes are drained into a state of their own: st.total is what was sent.
  const echoes = newState();
  let seq = 0;
  let lastSay = performance.now();
  while (!stopped() && (o.count === 0 || st.total.packets < o.count)) {
    if (nmRingSpace(m, r) === 0) {
      await port.poll({ tx: true }, CHECK_MS);
      continue;
    }
    const s = ringSlot(r, ringHead(m, r));
    const off = slotBuf(port, slotBufIdx(m, s), frame.length);
    if (off < 0) {
      st.badSlots++;
      await port.poll({ tx: true }, CHECK_MS);
      continue;
    }
    m.u8.set(frame, off);
    dv.setUint32(off + PKT_SEQ_OFF, seq);
    const sent = process.hrtime.bigint();
    dv.setUint32(off + PKT_TS_OFF, Number(sent / 1_000_000_000n));
    dv.setUint32(off + PKT_TS_OFF + 4, Number(sent % 1_000_000_000n));
    // A host stack drops a datagram whose checksum is wrong; another pkt-gen never checks.
    udpFillChecksum(m, off + 34, off + 14);
    slotSetLen(m, s, o.len);
    const nh = ringHead(m, r) + 1 === port.tx[0].numSlots ? 0 : ringHead(m, r) + 1;
    nmRingAdvance(m, r, nh);
    port.txsync();
    st.total.packets++;
    st.total.bytes += o.len;
    st.total.events++;
    const until = performance.now() + 1000;
    let answered = false;
    while (!answered && performance.now() < until && !stopped()) {
      const ready = await port.poll({ rx: true }, CHECK_MS);
      if (!ready.rx) continue;
      let arps = 0;
      drain(port, echoes, (roff, rlen) => {
        if (answerArp(port, roff, rlen, o.srcIp, o.srcMac)) {
          arps++;
          return;
        }
        if (rlen < PKT_TS_OFF + 8 || dv.getUint32(roff + PKT_SEQ_OFF) !== seq) return;
        const ts =
          BigInt(dv.getUint32(roff + PKT_TS_OFF)) * 1_000_000_000n +
          BigInt(dv.getUint32(roff + PKT_TS_OFF + 4));
        h.recordValue(Math.max(1, Number(process.hrtime.bigint() - ts)));
        answered = true;
      });
      if (arps > 0) port.txsync();
    }
    seq = (seq + 1) >>> 0;
    if (performance.now() - lastSay >= o.reportMs) {
      lastSay = performance.now();
      if (h.totalCount > 0)
        say(`count ${h.totalCount} RTT: min ${h.minNonZeroValue} av ${Math.round(h.mean)} ns`);
    }
  }
  st.badSlots += echoes.badSlots;
  if (h.totalCount === 0) return null;
  const rtt = {
    count: h.totalCount,
    minNs: h.minNonZeroValue,
    meanNs: Math.round(h.mean),
    p50Ns: h.getValueAtPercentile(50),
    p99Ns: h.getValueAtPercentile(99),
  };
  say(
    `RTT over ${rtt.count} packets: min ${rtt.minNs} av ${rtt.meanNs} p50 ${rtt.p50Ns} p99 ${rtt.p99Ns} ns`,
  );
  return rtt;
}

/** `10.0.0.1`, or `10.0.0.1-10.0.0.9:1234-1240` for -s/-d ranges. */
function range(ip0: number, ip1: number, p0: number, p1: number): string {
  const ips = ip1 === ip0 ? formatIpv4(ip0) : `${formatIpv4(ip0)}-${formatIpv4(ip1)}`;
  return p1 === p0 ? ips : `${ips}:${p0}-${p1}`;
}
