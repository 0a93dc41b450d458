/** Waiting in the main thread of a benchmark while domains run. */

/** Resolves once `cond()` holds (checked every 10 ms); rejects after `ms` naming `what`. */
export function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      } else if (performance.now() > end) {
        clearInterval(t);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Waits out a rate measurement's warm-up: until every counter `counts()` returns has moved
 * `frames` past where it stood at the call, and at least `minMs`, at most `maxMs` have
 * passed (checked every 10 ms). A guest's first frames run through code the JIT has not
 * compiled yet (a vif carries about 0.01 Mpps for its first 20 000 frames, then 50 times
 * that), so the start is judged by frames, not by time: a loaded machine gets there later.
 * Returns the ms waited.
 */
export async function warmUp(
  counts: () => readonly number[],
  frames: number,
  minMs: number,
  maxMs: number,
): Promise<number> {
  const t0 = performance.now();
  const base = counts().slice();
  const warm = (): boolean => counts().every((n, i) => n - (base[i] ?? 0) >= frames);
  for (;;) {
    const ms = performance.now() - t0;
    if (ms >= maxMs || (ms >= minMs && warm())) return ms;
    await sleep(10);
  }
}

/**
 * Waits until a rate has stopped rising: `total()` (a monotonic count) is read over
 * successive windows of `windowMs`, and the wait ends after the first window whose rate is
 * no more than `tolerance` (a fraction) above the window before it, or at `maxMs`. A host
 * of many guests is still tiering up (each worker's isolate compiles its own hot code, on
 * V8's helper threads that share the cores with the datapath) and its memory reducer still
 * collecting for seconds after every receiver has seen its warm-up frames: a window taken
 * then measures the start-up, not the host. With `busy` (a count such as the domains' major
 * GCs) the wait also lasts until a window in which that count did not move. Returns the ms
 * waited.
 */
export async function settle(
  total: () => number,
  windowMs: number,
  tolerance: number,
  maxMs: number,
  busy?: () => number,
): Promise<number> {
  const t0 = performance.now();
  let prev = Number.NaN;
  for (;;) {
    const n0 = total();
    const b0 = busy?.() ?? 0;
    const w0 = performance.now();
    await sleep(windowMs);
    const w1 = performance.now();
    const rate = (total() - n0) / (w1 - w0);
    const quiet = (busy?.() ?? 0) === b0;
    if (w1 - t0 >= maxMs || (quiet && rate <= prev * (1 + tolerance))) return w1 - t0;
    prev = rate;
  }
}
