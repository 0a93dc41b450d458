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
