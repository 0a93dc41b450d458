/**
 * Runs the two-domain ring demo (src/demo/ring-*.ts) in a fresh machine and measures the
 * frames the backend consumed per second after a warm-up. Shared by `pvnet bench ring`
 * and `pvnet demo`.
 */
import { backCounters, guestCounters, type RingPairArgs } from "../src/demo/ring-proto.js";
import type { LoopMode } from "../src/hv/loop.js";
import { Machine } from "../src/hv/machine.js";
import type { ThreadFigures } from "./result.js";

export interface RingPairOptions {
  frameBytes: number;
  batch: number;
  order?: number;
  mode?: LoopMode;
  verify?: boolean;
  /** Domain-0 sends every frame back over the guest's RX ring. */
  echo?: boolean;
}

export interface RingPair {
  machine: Machine;
  guest: ReturnType<typeof guestCounters>;
  back: ReturnType<typeof backCounters>;
  stop(): Promise<void>;
}

const program = (name: string): URL => new URL(`../src/demo/${name}.js`, import.meta.url);

/** Boots dom0 (backend) and one guest (frontend) exchanging frames until `stop`. */
export async function startRingPair(o: RingPairOptions): Promise<RingPair> {
  const guest = guestCounters();
  const back = backCounters();
  const order = o.order ?? 2;
  const args: RingPairArgs = {
    frameBytes: o.frameBytes,
    batch: o.batch,
    count: 0,
    order,
    verify: o.verify ?? true,
    echo: o.echo ?? false,
    budget: Math.max(1024, o.batch * 16),
    guestCounters: guest.buffer,
    backCounters: back.buffer,
  };
  const machine = new Machine();
  const loopMode = o.mode ?? "notify";
  await machine.createDomain({
    name: "Domain-0",
    pages: 1024,
    program: program("ring-back"),
    args,
    loopMode,
  });
  // TX buffers two to a page, RX buffers one per page, both rings, the frame template.
  const guestPages = (256 << order) * (o.echo ? 1.5 : 0.5) + (2 << order) + 16;
  const grantFrames = Math.ceil((guestPages + 16) / 512);
  const spec = {
    name: "guest",
    pages: guestPages,
    grantFrames,
    program: program("ring-guest"),
    args,
    loopMode,
  };
  await machine.createDomain(spec);
  return { machine, guest, back, stop: () => machine.shutdown() };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Mpps the backend consumed (and, with echo, the guest received back) over `measureMs`,
 * after frames started flowing and `warmupMs`.
 */
export async function measureRingPair(
  o: RingPairOptions,
  warmupMs: number,
  measureMs: number,
): Promise<{ tx: number; rx: number; cpuNsPerFrame: ThreadFigures }> {
  const pair = await startRingPair(o);
  try {
    const tx = pair.back.slot("rxFrames");
    const rx = pair.guest.slot("rxFrames");
    const b = pair.back.f64;
    const g = pair.guest.f64;
    const deadline = performance.now() + 5000;
    while (b[tx] === 0) {
      if (performance.now() > deadline) throw new Error("Ring pair moved no frame within 5 s");
      await sleep(5);
    }
    await sleep(warmupMs);
    const cpu = (domid: number): number => pair.machine.threadSample(domid)?.cpuNs ?? Number.NaN;
    const c0 = [cpu(1), cpu(0)];
    const tx0 = b[tx];
    const rx0 = g[rx];
    const t0 = performance.now();
    await sleep(measureMs);
    const tx1 = b[tx];
    const rx1 = g[rx];
    const c1 = [cpu(1), cpu(0)];
    const ms = performance.now() - t0;
    const errors = pair.back.get("seqErrors") + pair.guest.get("rspErrors") + pair.guest.get("rxSeqErrors");
    if (errors !== 0) throw new Error("Ring pair reported sequence or response errors");
    // Per frame Domain-0 consumed: the guest's thread sends them, Domain-0's takes them.
    const frames = tx1 - tx0;
    return {
      tx: (tx1 - tx0) / ms / 1000,
      rx: (rx1 - rx0) / ms / 1000,
      cpuNsPerFrame: { tx: (c1[0] - c0[0]) / frames, dom0: (c1[1] - c0[1]) / frames },
    };
  } finally {
    await pair.stop();
  }
}
