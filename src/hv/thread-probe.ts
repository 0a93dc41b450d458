/**
 * What a domain's thread costs, readable from the main thread without asking the domain:
 * its CPU time (the kernel's per-thread schedstat, read by thread id) and its garbage
 * collections (counted inside the worker, which alone can observe its own isolate). Node 20
 * has no per-thread CPU clock, so the thread id is the link: the worker writes it once into
 * a shared probe, and the main thread reads `/proc/self/task/<tid>/schedstat` whenever it
 * likes, so sampling a window adds nothing to the measured threads.
 *
 * The probe's words are written by the domain's own thread, which runs guest code: they are
 * figures for a benchmark, and the thread id is checked before it names a file. The one
 * decision taken on one, which thread `Machine.setCpus` binds, takes the id once and refuses
 * the main thread's or another domain's (Machine #threadIdOf).
 */
import { readFileSync, readlinkSync } from "node:fs";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { GCProfiler, getHeapSpaceStatistics } from "node:v8";

const P_TID = 0;
const P_MINOR = 1;
const P_MAJOR = 2;
const P_OTHER = 3;
/** Young-generation bytes allocated, as of the thread's last answer to a sample request. */
const P_ALLOC = 4;
const P_WORDS = 5;
/** Int32 words after the float ones: sample requests asked (by readers), and answered. */
const I_ASKED = 0;
const I_DONE = 1;
const I_WORDS = 2;

/** Bytes of the shared probe the machine hands each domain. */
export const PROBE_BYTES = P_WORDS * 8 + I_WORDS * 4;

/**
 * What the isolate's young generation holds now, bytes. New objects are bump-allocated
 * there (V8 pretenures only what allocation-site feedback says lives long), so its growth
 * between two readings is what the thread allocated, exactly, while no GC ran; a GC's drop
 * is added back from V8's own before/after figures (GCProfiler). Chosen over the sampling
 * heap profiler (statistical, and costly while on) and over scavenge counts (which hide
 * everything below a semi-space's worth).
 */
function youngUsed(spaces: readonly { space_name: string; space_used_size: number }[]): number {
  let used = 0;
  for (const s of spaces)
    if (s.space_name === "new_space" || s.space_name === "new_large_object_space") used += s.space_used_size;
  return used;
}

interface GcSpaces {
  heapSpaceStatistics: readonly { spaceName: string; spaceUsedSize: number }[];
}

function youngUsedIn(g: GcSpaces | undefined): number {
  let used = 0;
  for (const s of g?.heapSpaceStatistics ?? [])
    if (s.spaceName === "new_space" || s.spaceName === "new_large_object_space") used += s.spaceUsedSize;
  return used;
}

export function createProbe(): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(PROBE_BYTES);
  new Float64Array(sab)[P_TID] = -1;
  return sab;
}

/** This thread's kernel id, or -1 where /proc cannot say (not Linux). */
export function ownThreadId(): number {
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    return Number.isSafeInteger(tid) && tid > 0 ? tid : -1;
  } catch {
    return -1;
  }
}

/**
 * Starts filling `sab` for the calling thread: its id, then a count of every GC its isolate
 * runs, by kind, and (when a reader asks: requestProbe) the young-generation bytes it has
 * allocated. Runs for the thread's life (the observer keeps no entries, it counts; the GC
 * profiler is emptied at every GC). Nothing here runs per frame or per wake-up: only per
 * GC and per request, so a thread that allocates nothing is not made to by its probe.
 */
export function startThreadProbe(sab: SharedArrayBuffer): void {
  if (sab.byteLength < PROBE_BYTES) return;
  const p = new Float64Array(sab, 0, P_WORDS);
  const asks = new Int32Array(sab, P_WORDS * 8, I_WORDS);
  p[P_TID] = ownThreadId();
  const base = youngUsed(getHeapSpaceStatistics());
  let dropped = 0;
  let prof = new GCProfiler();
  prof.start();
  // What GCs took out of the young generation since the last drain (freed or promoted):
  // added back so the figure counts every byte allocated, collected or not.
  const drain = (): void => {
    const r = prof.stop() as { statistics?: readonly { beforeGC?: GcSpaces; afterGC?: GcSpaces }[] };
    prof = new GCProfiler();
    prof.start();
    for (const g of r?.statistics ?? []) dropped += youngUsedIn(g.beforeGC) - youngUsedIn(g.afterGC);
  };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) p[P_MINOR]++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) p[P_MAJOR]++;
      else p[P_OTHER]++;
    }
    drain();
  });
  obs.observe({ entryTypes: ["gc"] });
  let answered = 0;
  const answer = (): void => {
    const asked = Atomics.load(asks, I_ASKED);
    if (asked !== answered) {
      drain();
      p[P_ALLOC] = dropped + youngUsed(getHeapSpaceStatistics()) - base;
      answered = asked;
      Atomics.store(asks, I_DONE, asked);
      Atomics.notify(asks, I_DONE);
    }
    // Pending, it keeps the thread alive no more than any waitAsync does (not at all).
    const w = Atomics.waitAsync(asks, I_ASKED, answered);
    if (w.async) void w.value.then(answer);
    else queueMicrotask(answer);
  };
  answer();
}

/**
 * Asks the thread that fills `sab` to write its allocation figure now, and waits until it
 * has (or `timeoutMs` passed: a thread asleep in Atomics.wait answers when it wakes, a
 * thread gone never). True when the figure is fresh. The request costs the thread one
 * turn of its event loop: ask at a window's ends, not within it.
 */
export async function requestProbe(sab: SharedArrayBuffer, timeoutMs = 2000): Promise<boolean> {
  if (sab.byteLength < PROBE_BYTES) return false;
  const asks = new Int32Array(sab, P_WORDS * 8, I_WORDS);
  const want = Atomics.add(asks, I_ASKED, 1) + 1;
  Atomics.notify(asks, I_ASKED);
  const end = performance.now() + timeoutMs;
  for (;;) {
    const done = Atomics.load(asks, I_DONE);
    // Wrapping compare: the words are int32 counters.
    if (((done - want) | 0) >= 0) return true;
    const left = end - performance.now();
    if (left <= 0) return false;
    const w = Atomics.waitAsync(asks, I_DONE, done, left);
    if (w.async) await w.value;
  }
}

/** One reading of a thread: CPU time so far and GCs so far. */
export interface ThreadSample {
  /** Nanoseconds the thread has run on a CPU; NaN where the kernel does not say. */
  cpuNs: number;
  /** Scavenges (young-generation collections) of the thread's isolate. */
  minorGcs: number;
  /** Mark-compacts of the thread's isolate. */
  majorGcs: number;
  /**
   * Bytes the thread's isolate allocated in its young generation (where every object a hot
   * path makes lands), as of its last answer to requestProbe; NaN before any.
   */
  allocBytes: number;
}

/** The first field of a schedstat file (ns on CPU), or NaN. */
function schedstatNs(path: string): number {
  try {
    const ns = Number(readFileSync(path, "latin1").split(" ", 1)[0]);
    return Number.isFinite(ns) && ns >= 0 ? ns : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU time of the calling thread in ns (NaN where /proc cannot say). */
export function ownThreadCpuNs(): number {
  return schedstatNs("/proc/thread-self/schedstat");
}

/** The thread id a probe's thread wrote (checked: a positive integer), or -1. */
export function probeThreadId(sab: SharedArrayBuffer): number {
  const tid = new Float64Array(sab, 0, 1)[0];
  return Number.isSafeInteger(tid) && tid > 0 ? tid : -1;
}

/** Reads a probe filled by another thread of this process. */
export function readProbe(sab: SharedArrayBuffer): ThreadSample {
  const p = new Float64Array(sab, 0, P_WORDS);
  const tid = p[P_TID];
  const cpuNs =
    Number.isSafeInteger(tid) && tid > 0 ? schedstatNs(`/proc/self/task/${tid}/schedstat`) : Number.NaN;
  const asks = new Int32Array(sab, P_WORDS * 8, I_WORDS);
  const allocBytes = Atomics.load(asks, I_DONE) === 0 ? Number.NaN : p[P_ALLOC];
  return { cpuNs, minorGcs: p[P_MINOR], majorGcs: p[P_MAJOR], allocBytes };
}

/** What a thread spent between two samples. */
export function sampleDelta(a: ThreadSample, b: ThreadSample): ThreadSample {
  return {
    cpuNs: b.cpuNs - a.cpuNs,
    minorGcs: b.minorGcs - a.minorGcs,
    majorGcs: b.majorGcs - a.majorGcs,
    allocBytes: b.allocBytes - a.allocBytes,
  };
}
