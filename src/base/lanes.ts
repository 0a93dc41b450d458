/**
 * Running async steps over a list with at most `lanes` in flight: booting a hundred guests
 * one at a time leaves both cores idle while each worker starts, and all at once floods
 * Domain-0's xenstored and the scheduler.
 */

/**
 * Calls `step(0)`, `step(1)`, ... in index order, at most `lanes` unsettled at a time: each
 * call starts synchronously in order, so whatever a step takes before its first await (a
 * domid) follows the list's order. After the first rejection no new step starts; the
 * ones in flight settle, then that first error is thrown.
 */
export async function inLanes(
  count: number,
  lanes: number,
  step: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  let error: unknown;
  const lane = async (): Promise<void> => {
    while (!failed && next < count) {
      const i = next++;
      try {
        await step(i);
      } catch (e) {
        if (!failed) error = e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, count)) }, lane));
  if (failed) throw error;
}
