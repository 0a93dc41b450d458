/**
 * Where a domain thread allocates: V8's sampling heap profiler, run inside the thread (an
 * inspector session reaches only its own isolate) for one window, objects that minor and
 * major GCs collected included (the garbage that causes scavenges is exactly what a plain
 * heap profile leaves out). For finding allocation sites (scripts/vif-alloc-sites.mjs), not
 * for figures: the thread probe's allocBytes is the exact total.
 *
 * Turned on for every domain worker by PVNET_HEAP_SAMPLE=DIR[,DELAY_MS[,WINDOW_MS[,INTERVAL_B]]]
 * in the environment: sampling starts DELAY_MS (default 3000) after the thread starts, lasts
 * WINDOW_MS (2500), one sample per INTERVAL_B bytes on average (256), and the profile is
 * written to DIR/<domain name>.heapprofile (Chrome DevTools' format).
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

export interface HeapSampleSpec {
  dir: string;
  delayMs: number;
  windowMs: number;
  intervalBytes: number;
}

/** The spec in PVNET_HEAP_SAMPLE's syntax, or null (unset, or a field not a positive number). */
export function parseHeapSampleSpec(env: string | undefined): HeapSampleSpec | null {
  if (env === undefined || env === "") return null;
  const [dir, ...nums] = env.split(",");
  const [delayMs = 3000, windowMs = 2500, intervalBytes = 256] = nums.map(Number);
  if (dir === "" || ![delayMs, windowMs, intervalBytes].every((n) => Number.isFinite(n) && n > 0))
    return null;
  return { dir, delayMs, windowMs, intervalBytes };
}

/** Samples this thread's allocations for one window and writes `<dir>/<name>.heapprofile`. */
export function startHeapSampling(spec: HeapSampleSpec, name: string): void {
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (e: Error | null, r?: object) => (e === null ? resolve(r) : reject(e))),
    );
  const run = async (): Promise<void> => {
    await post("HeapProfiler.startSampling", {
      samplingInterval: spec.intervalBytes,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await new Promise((r) => setTimeout(r, spec.windowMs).unref());
    const r = (await post("HeapProfiler.stopSampling")) as { profile: unknown };
    writeFileSync(join(spec.dir, `${name.replace(/[^\w.-]/g, "_")}.heapprofile`), JSON.stringify(r.profile));
    session.disconnect();
  };
  // A debugging aid: a failure is said, never thrown into the domain.
  setTimeout(() => {
    run().catch((e: unknown) => process.stderr.write(`pvnet: heap sampling of ${name}: ${String(e)}\n`));
  }, spec.delayMs).unref();
}
