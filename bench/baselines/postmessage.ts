/**
 * The baseline a Node user would otherwise pick: moving the same frames between two
 * worker_threads with postMessage over a MessageChannel.
 * - `frame`: one Uint8Array frame per message, structured clone (batch must be 1).
 * - `packed`: `batch` frames back to back in one ArrayBuffer per message, cloned.
 * - `transfer`: the same, but the ArrayBuffer is transferred instead of cloned.
 * Credit-based flow control keeps the queue bounded (at most WINDOW_FRAMES in flight, or two
 * messages if a batch is larger), so the figure is throughput, not how fast a queue grows.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { MessageChannel, Worker } from "node:worker_threads";
import { type BenchRow, gbpsOf, median } from "../result.js";
import {
  MSG_READY,
  MSG_START,
  type PostMessageVariant,
  type PostMessageWorkerData,
  STAT_CONSUMED,
  STAT_SEQ_ERRORS,
  STAT_WORDS,
} from "./postmessage-worker.js";

export type { PostMessageVariant } from "./postmessage-worker.js";

export interface PostMessageOptions {
  variant: PostMessageVariant;
  frameBytes: number;
  /** Frames per message; must be 1 for `frame`. */
  batch: number;
  warmupMs: number;
  measureMs: number;
  /** Fresh worker pairs to run; the row reports the median. */
  runs: number;
}

/** Frames in flight, as in a 1024-entry ring. */
const WINDOW_FRAMES = 1024;
/** The consumer's private copy buffer, the same size as a ring buffer slot. */
const MAX_FRAME_BYTES = 2048;
/** The template puts a 4-byte sequence number at byte 42. */
const MIN_FRAME_BYTES = 46;

interface RunResult {
  mpps: number;
  seqErrors: number;
}

/**
 * Measures one postMessage variant `opts.runs` times with fresh workers and returns the median
 * as the row "postMessage <variant>".
 */
export async function runPostMessage(opts: PostMessageOptions): Promise<BenchRow> {
  checkOptions(opts);
  const results: RunResult[] = [];
  for (let i = 0; i < opts.runs; i++) results.push(await runOnce(opts));
  const mpps = median(results.map((r) => r.mpps));
  return {
    name: `postMessage ${opts.variant}`,
    frameBytes: opts.frameBytes,
    batch: opts.batch,
    mpps,
    gbps: gbpsOf(mpps, opts.frameBytes),
    seqErrors: results.reduce((sum, r) => sum + r.seqErrors, 0),
  };
}

function checkOptions(opts: PostMessageOptions): void {
  if (opts.variant === "frame" && opts.batch !== 1) {
    throw new RangeError(`postMessage frame sends one frame per message: batch must be 1, got ${opts.batch}`);
  }
  if (!Number.isInteger(opts.batch) || opts.batch < 1) {
    throw new RangeError(`Batch must be a positive integer, got ${opts.batch}`);
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) {
    throw new RangeError(`Runs must be a positive integer, got ${opts.runs}`);
  }
  const fb = opts.frameBytes;
  if (!Number.isInteger(fb) || fb < MIN_FRAME_BYTES || fb > MAX_FRAME_BYTES) {
    throw new RangeError(`Frame size must be ${MIN_FRAME_BYTES}..${MAX_FRAME_BYTES} bytes, got ${fb}`);
  }
}

async function runOnce(opts: PostMessageOptions): Promise<RunResult> {
  const stats = new SharedArrayBuffer(STAT_WORDS * 4);
  const counters = new Uint32Array(stats);
  const { port1, port2 } = new MessageChannel();
  const windowFrames = Math.max(WINDOW_FRAMES, 2 * opts.batch);
  // A quarter of the window: credits return well before the producer stalls. It must not exceed
  // windowFrames - batch, or each side could wait for the other.
  const ackFrames = windowFrames / 4;
  const { variant, frameBytes, batch } = opts;
  const shared = { variant, frameBytes, batch, windowFrames, ackFrames, stats };
  const spawned: Spawned[] = [];
  try {
    const consumer = spawn({ ...shared, role: "consumer", port: port2 });
    spawned.push(consumer);
    const producer = spawn({ ...shared, role: "producer", port: port1 });
    spawned.push(producer);
    const failed = Promise.race([consumer.failed, producer.failed]);
    await Promise.race([Promise.all([consumer.ready, producer.ready]), failed]);
    producer.worker.postMessage(MSG_START);
    return await Promise.race([measure(counters, opts), failed]);
  } finally {
    await Promise.all(spawned.map((s) => s.stop()));
  }
}

async function measure(counters: Uint32Array, opts: PostMessageOptions): Promise<RunResult> {
  await sleep(opts.warmupMs);
  const c0 = Atomics.load(counters, STAT_CONSUMED);
  const t0 = performance.now();
  await sleep(opts.measureMs);
  const c1 = Atomics.load(counters, STAT_CONSUMED);
  const seconds = (performance.now() - t0) / 1000;
  const frames = (c1 - c0) >>> 0; // the counter wraps at 2^32
  return { mpps: frames / seconds / 1e6, seqErrors: Atomics.load(counters, STAT_SEQ_ERRORS) };
}

interface Spawned {
  worker: Worker;
  /** Resolves when the worker listens on its port. */
  ready: Promise<void>;
  /** Rejects if the worker throws or exits before stop(); otherwise never settles. */
  failed: Promise<never>;
  stop(): Promise<void>;
}

function spawn(workerData: PostMessageWorkerData): Spawned {
  const worker = new Worker(new URL("./postmessage-worker.js", import.meta.url), {
    workerData,
    transferList: [workerData.port],
  });
  let isStopping = false;
  const ready = new Promise<void>((resolve) => {
    worker.on("message", (msg) => {
      if (msg === MSG_READY) resolve();
    });
  });
  // Exits and errors caused by our own terminate() are not failures; ignoring them here also
  // keeps them from becoming unhandled rejections.
  const failed = new Promise<never>((_, reject) => {
    worker.on("error", (err) => {
      if (!isStopping) reject(err);
    });
    worker.on("exit", (code) => {
      if (!isStopping) reject(new Error(`postMessage ${workerData.role} exited early with code ${code}`));
    });
  });
  const stop = async (): Promise<void> => {
    isStopping = true;
    await worker.terminate();
  };
  return { worker, ready, failed, stop };
}
