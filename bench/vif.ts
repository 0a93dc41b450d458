/**
 * `pvnet bench vif`: guest to guest through netfront, netback and VALE, event-driven, on a
 * host booted as `pvnet up` boots one (xenstore handshake, hotplug, the lot): guest1 sends
 * UDP frames to guest2 as fast as its netfront takes them, guest2 counts what arrives. 64 B
 * and 1500 B, one queue and two (the sender spreads flows over them), with staging grants
 * (the default: the guests' pools mapped once in Domain-0, frames moved by plain copies),
 * one queue with `staging-grants: false` (a grant copy per frame) beside them, and one queue with `rx-mode: flip` (guest2 receives
 * by page transfer, docs/drivers.md) beside the copy row. Then ping RTT from
 * guest1's stack to guest2's, one echo at a time, percentiles from an HDR histogram. In the
 * same run, as rows: the raw ring (`bench ring`'s notify row, guest -> Domain-0 only) and
 * VALE in one thread, so a reader sees what the drivers add; ping again with the guests'
 * loops in `block` mode, and with Domain-0's `adaptive` too; after the pings, the raw four-hop
 * wake-up path with each wait primitive (bench/wake-hops.ts), the floors of the ping row.
 */
import * as hdr from "hdr-histogram-js";
import type { LoopMode } from "../src/hv/loop.js";
import type { ThreadSample } from "../src/hv/thread-probe.js";
import { sampleDelta } from "../src/hv/thread-probe.js";
import { parseHostConfig } from "../src/toolstack/config.js";
import type { HostConfig } from "../src/toolstack/config-types.js";
import { Host } from "../src/toolstack/host.js";
import { remoteValeRow } from "./netmapd.js";
import {
  type BenchOptions,
  type BenchRow,
  benchSession,
  gbpsOf,
  median,
  medianFigures,
  type ThreadFigures,
} from "./result.js";
import { measureRingPair } from "./ring-pair.js";
import { measureValeThread, type ValeRate } from "./vale.js";
import {
  type VifBenchExtra,
  type VifBenchRole,
  W_GO,
  W_PINGS_DONE,
  W_PINGS_FINISHED,
  W_READY,
  W_RX,
  W_WORDS,
} from "./vif-guest.js";
import { sleep, until, warmUp } from "./wait.js";
import { HOP_PRIMITIVES, measureWakeHops } from "./wake-hops.js";

const FRAMES = [64, 1500] as const;
/** The rate-limited row's vif `rate` (Ethernet frame bytes, as netback charges them). */
export const RATE_MBIT = 50;
/** Queue counts: with several, netfront programs Toeplitz steering over the control ring. */
const QUEUES = [1, 2, 4] as const;
const MAC1 = 0x00163e000100;
const MAC2 = 0x00163e000200;
const IP1 = 0x0a000001;
const IP2 = 0x0a000002;
/** Frames guest2 receives before the window opens: past the JIT's start (about 20 000). */
export const WARM_FRAMES = 50_000;
/** The most a warm-up waits for them (a machine too loaded to get there is measured anyway). */
export const WARM_MAX_MS = 3000;
/**
 * Each domain thread's young-generation semi-space, MB (src/hv/nursery.ts): the garbage the
 * loop's sleeps and yields force (Node's waitAsync promises and Immediates, 15-35 MB per
 * 10^7 frames on these paths, allocBytesPerFrame) fits in it, so a window of 10^7 frames
 * runs without a scavenge. allocBytesPerFrame says what a path allocates whatever the size.
 */
export const VIF_NURSERY_MB = 64;
/** Echoes before the recorded ones: the first run through code the JIT has not compiled. */
export const WARM_PINGS = 50;

export async function benchVif(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const { runs, warmupMs, measureMs, rows, add } = benchSession(opts);
  const repeat = async (run: () => Promise<VifRate>): Promise<VifRate[]> => {
    const rs: VifRate[] = [];
    for (let i = 0; i < runs; i++) rs.push(await run());
    return rs;
  };
  for (const frameBytes of FRAMES) {
    for (const queues of QUEUES) {
      const rs = await repeat(() => measureVif(frameBytes, queues, warmupMs, measureMs));
      add(vifRow(`vif guest->guest ${queues}q${queues > 1 ? " hash steering" : ""}`, frameBytes, rs));
    }
    // `staging-grants: false`: the per-frame grant-copy path the staged rows above skip.
    add(
      vifRow(
        "vif guest->guest 1q grant copies (staging-grants: false)",
        frameBytes,
        await repeat(() => measureVif(frameBytes, 1, warmupMs, measureMs, "notify", true, false)),
      ),
    );
    // Both vifs netmap passthrough: the guests use a VALE port's rings, Domain-0 one copy.
    add(
      vifRow(
        "vif guest->guest 1q passthrough",
        frameBytes,
        await repeat(() =>
          measureVif(frameBytes, 1, warmupMs, measureMs, "notify", true, false, undefined, "copy", true),
        ),
      ),
    );
    // `rx-mode: flip`: every frame reaches guest2 by GNTTABOP_transfer instead of a grant copy.
    add(
      vifRow(
        "vif guest->guest 1q rx-mode=flip",
        frameBytes,
        await repeat(() =>
          measureVif(frameBytes, 1, warmupMs, measureMs, "notify", true, false, undefined, "flip"),
        ),
      ),
    );
    // The same with the guests' `trusted` = 0: every frame bounced out of its granted page.
    add(
      vifRow(
        "vif guest->guest 1q trusted=0",
        frameBytes,
        await repeat(() => measureVif(frameBytes, 1, warmupMs, measureMs, "notify", false)),
      ),
    );
    // A sender held by netback's credit scheduler: the row reads against RATE_MBIT.
    add(
      vifRow(
        `vif guest->guest 1q rate=${RATE_MBIT}Mbit/s`,
        frameBytes,
        await repeat(() =>
          measureVif(frameBytes, 1, warmupMs, measureMs, "notify", true, false, `${RATE_MBIT}Mbit/s`),
        ),
      ),
    );
    const ring: { tx: number; cpuNsPerFrame: ThreadFigures }[] = [];
    for (let i = 0; i < runs; i++)
      ring.push(await measureRingPair({ frameBytes, batch: 32, mode: "notify" }, warmupMs, measureMs));
    const rm = median(ring.map((r) => r.tx));
    add({
      name: "baseline: ring notify (guest->dom0)",
      frameBytes,
      batch: 32,
      mpps: rm,
      gbps: gbpsOf(rm, frameBytes),
      cpuNsPerFrame: medianFigures(ring.map((r) => r.cpuNsPerFrame)),
    });
    const vale: ValeRate[] = [];
    for (let i = 0; i < runs; i++) vale.push(measureValeThread(frameBytes, 32, 1, warmupMs, measureMs));
    const vm = median(vale.map((v) => v.mpps));
    add({
      name: "baseline: VALE 1->1 one thread",
      frameBytes,
      batch: 32,
      mpps: vm,
      gbps: gbpsOf(vm, frameBytes),
      cpuNsPerFrame: medianFigures(vale.map((v) => ({ thread: v.cpuNsPerFrame }))),
    });
    // The same switch in the vif's own layout: pkt-gen's tx and rx in worker threads and the
    // switch in a third (`pvnet netmapd`), with the passthrough rows' 4096-slot rings.
    const v3 = await remoteValeRow(frameBytes, 32, runs, warmupMs, measureMs, BENCH_PT_SLOTS);
    add({ name: VALE3_ROW, frameBytes, batch: 32, gbps: gbpsOf(v3.mpps, frameBytes), ...v3 });
  }
  const pings = opts.quick ? 200 : 2000;
  add(await measurePing(pings));
  // The wake-up modes (docs/hypervisor.md#loop-modes): guests sleeping in Atomics.wait, then
  // Domain-0 also spinning for its learnt window.
  add({ ...(await measurePing(pings, "notify", "block")), name: "vif ping RTT guest->guest loop=block" });
  add({
    ...(await measurePing(pings, "adaptive", "block")),
    name: "vif ping RTT guest->guest loop=block, Domain-0 adaptive",
  });
  add({
    ...(await measurePing(pings, "notify", undefined, true)),
    name: "vif ping RTT guest->guest passthrough",
  });
  // The floors the ping row's target is a ratio of, measured in the same run.
  for (const prim of HOP_PRIMITIVES) add(await measureWakeHops(prim, opts.quick ? 500 : 2000));
  addTargetRatios(rows);
  return rows;
}

/** VALE 1->1 with pkt-gen's tx, the switch and pkt-gen's rx in three threads, as a vif's domains are. */
export const VALE3_ROW = "baseline: VALE 1->1 three threads (pkt-gen tx, switch, pkt-gen rx)";

/** The rows issue 19's rate targets are ratios of VALE 1->1 one thread for (same frame size). */
const OF_VALE_ROWS = ["vif guest->guest 1q", "vif guest->guest 1q passthrough"];
/** Each ping row and the four-hop floor of the wait primitive its guests sleep in. */
const PING_FLOORS: Readonly<Record<string, string>> = {
  "vif ping RTT guest->guest": "baseline: four-hop wake-up (waitAsync)",
  "vif ping RTT guest->guest loop=block": "baseline: four-hop wake-up (Atomics.wait)",
  "vif ping RTT guest->guest loop=block, Domain-0 adaptive": "baseline: four-hop wake-up (Atomics.wait)",
  "vif ping RTT guest->guest passthrough": "baseline: four-hop wake-up (waitAsync)",
};

/**
 * Writes each target's ratio beside its row, from baselines measured in the same run:
 * `ofVale` (the row's Mpps over VALE 1->1 one thread's at its frame size), `ofVale3` (over
 * VALE 1->1 in three threads, the vif's own layout) and `ofFloor`
 * (a ping row's p50 over the four-hop wake-up floor of its guests' wait primitive).
 */
export function addTargetRatios(rows: BenchRow[]): void {
  const byName = (name: string, frameBytes?: number): BenchRow | undefined =>
    rows.find((r) => r.name === name && (frameBytes === undefined || r.frameBytes === frameBytes));
  for (const r of rows) {
    if (OF_VALE_ROWS.includes(r.name)) {
      const vale = byName("baseline: VALE 1->1 one thread", r.frameBytes);
      if (vale !== undefined && vale.mpps > 0) r.ofVale = Math.round((r.mpps / vale.mpps) * 100) / 100;
      const vale3 = byName(VALE3_ROW, r.frameBytes);
      if (vale3 !== undefined && vale3.mpps > 0) r.ofVale3 = Math.round((r.mpps / vale3.mpps) * 100) / 100;
    }
    const floorName = PING_FLOORS[r.name];
    const floor = floorName === undefined ? undefined : byName(floorName);
    const p50 = r.p50us;
    const f50 = floor?.p50us;
    if (typeof p50 === "number" && typeof f50 === "number" && f50 > 0)
      r.ofFloor = Math.round((p50 / f50) * 100) / 100;
  }
}

/** A vif row from its runs: the median of each figure over them. */
export function vifRow(name: string, frameBytes: number, rs: readonly VifRate[]): BenchRow {
  const mpps = median(rs.map((r) => r.mpps));
  const per = (f: (s: ThreadSample, frames: number) => number): ThreadFigures =>
    medianFigures(
      rs.map((r) => ({
        tx: f(r.threads.tx, r.frames),
        dom0: f(r.threads.dom0, r.frames),
        rx: f(r.threads.rx, r.frames),
      })),
    );
  return {
    name,
    frameBytes,
    batch: 32,
    mpps,
    gbps: gbpsOf(mpps, frameBytes),
    cpuNsPerFrame: per((s, n) => s.cpuNs / n),
    minorGcsPer1e7Frames: per((s, n) => (s.minorGcs / n) * 1e7),
    allocBytesPerFrame: per((s, n) => s.allocBytes / n),
  };
}

/**
 * The passthrough rows' slots per ring: netmap's largest (`vale-ctl -C 4096`), as the netif rows
 * take four-page rings; 16 MiB of each guest's 64 (docs/passthrough.md, "Ring size": at 64 B
 * Domain-0 spent 97-112 ns a frame at 4096 slots against 118-140 at the default 2048, same window).
 */
const BENCH_PT_SLOTS = 4096;

function benchHost(
  queues: number,
  trusted = true,
  staging = true,
  rate?: string,
  rxMode: "copy" | "flip" = "copy",
  passthrough = false,
): HostConfig {
  const vif = (mac: string, ip: string) =>
    `    vifs:\n      - mac: "${mac}"\n        ip: ${ip}/24\n        queues: ${queues}\n        ring-page-order: 2\n` +
    `        trusted: ${trusted}\n        staging-grants: ${staging}\n        rx-mode: ${rxMode}\n` +
    `${rate === undefined ? "" : `        rate: ${rate}\n`}` +
    `${passthrough ? `        passthrough: true\n        passthrough-slots: ${BENCH_PT_SLOTS}\n` : ""}`;
  const yaml =
    "domains:\n  - name: Domain-0\n    memory: 128M\n" +
    `  - name: guest1\n    memory: 64M\n${vif("00:16:3e:00:01:00", "10.0.0.1")}` +
    `  - name: guest2\n    memory: 64M\n${vif("00:16:3e:00:02:00", "10.0.0.2")}` +
    "bridges:\n  vale0: {}\n";
  const r = parseHostConfig(yaml, "(bench vif)");
  if (!r.ok) throw new Error(`bench vif host: ${r.issues[0].field}: ${r.issues[0].problem}`);
  return r.config;
}

interface Booted {
  host: Host;
  words: Float64Array[];
  rtts: Float64Array;
}

async function boot(
  queues: number,
  roles: [VifBenchRole, VifBenchRole],
  frameBytes: number,
  pings = 0,
  loopMode: LoopMode = "notify",
  trusted = true,
  staging = true,
  rate?: string,
  rxMode: "copy" | "flip" = "copy",
  passthrough = false,
  guestLoopMode?: LoopMode,
): Promise<Booted> {
  const extras: VifBenchExtra[] = roles.map((role, i) => ({
    role,
    frameBytes,
    flows: queues * 8,
    peerMac: i === 0 ? MAC2 : MAC1,
    peerIp: i === 0 ? IP2 : IP1,
    words: new SharedArrayBuffer(W_WORDS * 8),
    pings,
    warmupPings: pings > 0 ? WARM_PINGS : 0,
    rtts: new SharedArrayBuffer(Math.max(1, pings) * 8),
  }));
  const host = await Host.boot(benchHost(queues, trusted, staging, rate, rxMode, passthrough), {
    socketPath: null,
    guestProgram: new URL("./vif-guest.js", import.meta.url),
    guestExtra: (i) => extras[i],
    loopMode,
    ...(guestLoopMode === undefined ? {} : { guestLoopMode }),
    nurseryMb: VIF_NURSERY_MB,
  });
  const words = extras.map((e) => new Float64Array(e.words));
  try {
    await until(() => words.every((w) => w[W_READY] === 1), 10_000, "both vifs Connected");
    for (const w of words) w[W_GO] = 1;
  } catch (e) {
    await host.shutdown();
    throw e;
  }
  return { host, words, rtts: new Float64Array(extras[0].rtts) };
}

export interface VifRate {
  /** Frames per second guest2 received in the window, in millions. */
  mpps: number;
  /** The warm-up before the window (at least `warmupMs`): its frames and its length. */
  warmupFrames: number;
  warmupMs: number;
  /** Frames guest2 received in the window. */
  frames: number;
  /** What each domain's thread spent in the window (CPU ns NaN where the kernel does not say). */
  threads: { tx: ThreadSample; dom0: ThreadSample; rx: ThreadSample };
}

/**
 * Guest1 -> guest2 frame rate, measured over `measureMs` once guest2 has received
 * WARM_FRAMES (or WARM_MAX_MS passed). `loopMode` "hybrid" (every domain spins briefly
 * before sleeping) is for comparison only: the bench's rows are "notify".
 */
export async function measureVif(
  frameBytes: number,
  queues: number,
  warmupMs: number,
  measureMs: number,
  loopMode: LoopMode = "notify",
  /** The guests' `trusted`: false bounces every received frame (XSA-403). */
  trusted = true,
  /** The guests' `staging-grants` (false: a grant copy per frame). */
  staging = true,
  /** The vifs' `rate` (config syntax): netback's credit limit on each guest's transmissions. */
  rate?: string,
  /** The guests' `rx-mode`: flip receives by page transfer. */
  rxMode: "copy" | "flip" = "copy",
  /** Both vifs netmap passthrough (`passthrough: true`): frames cross by VALE's one copy. */
  passthrough = false,
): Promise<VifRate> {
  const { host, words } = await boot(
    queues,
    ["tx", "rx"],
    frameBytes,
    0,
    loopMode,
    trusted,
    staging,
    rate,
    rxMode,
    passthrough,
  );
  try {
    const rx = words[1];
    const w0 = rx[W_RX];
    const warmMs = await warmUp(() => [rx[W_RX]], WARM_FRAMES, warmupMs, WARM_MAX_MS);
    const s0 = await threadSamples(host);
    const n0 = rx[W_RX];
    const t0 = performance.now();
    await sleep(measureMs);
    const n1 = rx[W_RX];
    const ms = performance.now() - t0;
    const s1 = await threadSamples(host);
    return {
      mpps: (n1 - n0) / ms / 1000,
      warmupFrames: n0 - w0,
      warmupMs: warmMs,
      frames: n1 - n0,
      threads: {
        tx: sampleDelta(s0.tx, s1.tx),
        dom0: sampleDelta(s0.dom0, s1.dom0),
        rx: sampleDelta(s0.rx, s1.rx),
      },
    };
  } finally {
    await host.shutdown();
  }
}

export const NO_SAMPLE: ThreadSample = {
  cpuNs: Number.NaN,
  minorGcs: Number.NaN,
  majorGcs: Number.NaN,
  allocBytes: Number.NaN,
};

/**
 * The bench's three threads now: guest1 sends, Domain-0 forwards, guest2 receives. Each is
 * asked for its allocation figure (a turn of its event loop, at the window's ends only).
 */
async function threadSamples(
  host: Host,
): Promise<{ tx: ThreadSample; dom0: ThreadSample; rx: ThreadSample }> {
  const byName = async (name: string): Promise<ThreadSample> => {
    const d = host.machine.status().find((s) => s.name === name);
    return (d === undefined ? undefined : await host.machine.threadSampleNow(d.domid)) ?? NO_SAMPLE;
  };
  const [tx, dom0, rx] = await Promise.all([byName("guest1"), byName("Domain-0"), byName("guest2")]);
  return { tx, dom0, rx };
}

/**
 * Ping RTT guest1 -> guest2, one echo at a time, after WARM_PINGS unrecorded ones (exported
 * for profiling, as measureVif).
 */
export async function measurePing(
  count: number,
  loopMode: LoopMode = "notify",
  guestLoopMode?: LoopMode,
  passthrough = false,
): Promise<BenchRow> {
  const { host, words, rtts } = await boot(
    1,
    ["ping", "pong"],
    64,
    count,
    loopMode,
    true,
    false,
    undefined,
    "copy",
    passthrough,
    guestLoopMode,
  );
  try {
    await until(() => words[0][W_PINGS_FINISHED] === 1, 120_000, "the pings");
    const n = words[0][W_PINGS_DONE];
    const h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 10_000_000,
      numberOfSignificantValueDigits: 3,
    });
    for (let i = 0; i < n; i++) h.recordValue(Math.max(1, Math.round(rtts[i])));
    return {
      name: "vif ping RTT guest->guest",
      frameBytes: 98,
      batch: 1,
      mpps: 0,
      gbps: 0,
      noRate: true,
      pings: n,
      lost: count - n,
      // HDR reports a bucket's highest equivalent value, which can pass the largest sample.
      p50us: Math.min(h.getValueAtPercentile(50), h.maxValue),
      p99us: Math.min(h.getValueAtPercentile(99), h.maxValue),
      maxUs: h.maxValue,
    };
  } finally {
    await host.shutdown();
  }
}
