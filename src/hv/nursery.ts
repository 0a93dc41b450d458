/**
 * A domain worker with a fixed young generation (the nursery V8 scavenges). A domain's
 * event loop makes a little garbage per sleep and per yield that no JavaScript can avoid
 * (Atomics.waitAsync returns a fresh promise, setImmediate a fresh Immediate: 250-330 bytes
 * a turn, measured by the thread probe); V8 starts a worker's semi-space at 1 MB and grows it
 * only when objects survive, so that garbage costs a scavenge every few megabytes. A semi-space
 * of `semiMb` from the start holds tens of seconds of it at full rate.
 *
 * Node 20 gives a worker a young-generation ceiling (resourceLimits.maxYoungGenerationSizeMb,
 * three semi-spaces) but no starting size (measured: a worker with a 192 MB ceiling alone still
 * scavenged as often, its new space 8 MB after 1.5 s of garbage; V8 flags in a worker's
 * execArgv are refused, ERR_WORKER_INVALID_EXEC_ARGV); V8's --min-semi-space-size gives one and is read
 * when an isolate is made, so it is set just for the workers started here and cleared once
 * they run (measured: a worker started while it is set gets the semi-space, one started after
 * it is cleared the default). A worker some other code starts in that window (between `new
 * Worker` and its 'online') gets it too: V8's flags are the process's.
 */
import { setFlagsFromString } from "node:v8";
import { Worker, type WorkerOptions } from "node:worker_threads";

/** Workers started with the flag set that are not yet running. */
let starting = 0;

/** Largest semi-space accepted, MB (V8 takes a power of two up to this on 64-bit hosts). */
export const NURSERY_MAX_MB = 256;

/** Starts a worker whose young generation's semi-space is `semiMb` MB from the start. */
export function startWorkerWithNursery(url: URL, opts: WorkerOptions, semiMb: number): Worker {
  if (!Number.isInteger(semiMb) || semiMb < 1 || semiMb > NURSERY_MAX_MB)
    throw new RangeError(`nursery: semi-space ${semiMb} MB is not a whole number of 1..${NURSERY_MAX_MB}`);
  setFlagsFromString(`--min-semi-space-size=${semiMb}`);
  starting++;
  let done = false;
  const clear = (): void => {
    if (done) return;
    done = true;
    // 0 is V8's default: a semi-space that starts small and grows.
    if (--starting === 0) setFlagsFromString("--min-semi-space-size=0");
  };
  let w: Worker;
  try {
    w = new Worker(url, {
      ...opts,
      resourceLimits: { ...opts.resourceLimits, maxYoungGenerationSizeMb: semiMb * 3 },
    });
  } catch (e) {
    clear();
    throw e;
  }
  w.once("online", clear);
  w.once("exit", clear);
  return w;
}
