/**
 * What a domain's thread costs, readable from the main thread without asking the domain:
 * its CPU time (the kernel's per-thread schedstat, read by thread id) and its garbage
 * collections (counted inside the worker, which alone can observe its own isolate). Node 20
 * has no per-thread CPU clock, so the thread id is the link: the worker writes it once into
 * a shared probe, and the main thread reads `/proc/self/task/<tid>/schedstat` whenever it
 * likes, so sampling a window adds nothing to the measured threads.
 *
 * The probe's words are written by the domain's own thread, which runs guest code: they are
 * figures for a benchmark, never used to decide anything, and the thread id is checked
 * before it names a file.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { constants, PerformanceObserver } from "node:perf_hooks";

const P_TID = 0;
const P_MINOR = 1;
const P_MAJOR = 2;
const P_OTHER = 3;
const P_WORDS = 4;

/** Bytes of the shared probe the machine hands each domain. */
export const PROBE_BYTES = P_WORDS * 8;

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
 * runs, by kind. Runs for the thread's life (the observer keeps no entries, it counts).
 */
export function startThreadProbe(sab: SharedArrayBuffer): void {
  if (sab.byteLength < PROBE_BYTES) return;
  const p = new Float64Array(sab, 0, P_WORDS);
  p[P_TID] = ownThreadId();
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) p[P_MINOR]++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) p[P_MAJOR]++;
      else p[P_OTHER]++;
    }
  });
  obs.observe({ entryTypes: ["gc"] });
}

/** One reading of a thread: CPU time so far and GCs so far. */
export interface ThreadSample {
  /** Nanoseconds the thread has run on a CPU; NaN where the kernel does not say. */
  cpuNs: number;
  /** Scavenges (young-generation collections) of the thread's isolate. */
  minorGcs: number;
  /** Mark-compacts of the thread's isolate. */
  majorGcs: number;
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

/** Reads a probe filled by another thread of this process. */
export function readProbe(sab: SharedArrayBuffer): ThreadSample {
  const p = new Float64Array(sab, 0, P_WORDS);
  const tid = p[P_TID];
  const cpuNs =
    Number.isSafeInteger(tid) && tid > 0 ? schedstatNs(`/proc/self/task/${tid}/schedstat`) : Number.NaN;
  return { cpuNs, minorGcs: p[P_MINOR], majorGcs: p[P_MAJOR] };
}

/** What a thread spent between two samples. */
export function sampleDelta(a: ThreadSample, b: ThreadSample): ThreadSample {
  return { cpuNs: b.cpuNs - a.cpuNs, minorGcs: b.minorGcs - a.minorGcs, majorGcs: b.majorGcs - a.majorGcs };
}
