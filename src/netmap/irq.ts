/**
 * Wake-ups for netmap rings across threads (netmap_rx_irq / netmap_tx_irq and nm_notify):
 * whoever polls a ring announces it sleeps in the ring's sem area and waits on the ring's
 * wake word; the side that moved the ring calls `ringIrq`, which costs one atomic load
 * unless somebody sleeps.
 */
import type { Mem } from "../wire/mem.js";
import { SEM_SLEEPING, SEM_WAKE } from "./layout.js";

export function ringIrq(m: Mem, r: number): void {
  const w = r >>> 2;
  if (Atomics.load(m.i32, w + SEM_SLEEPING) === 0) return;
  Atomics.add(m.i32, w + SEM_WAKE, 1);
  Atomics.notify(m.i32, w + SEM_WAKE);
}

/**
 * Sleeps until `ringIrq` is called for ring `r`, `ready()` turns true, or `timeoutMs`
 * passes. `ready` is checked after announcing the sleep, so a wake-up between the caller's
 * last look and the wait is never lost.
 */
export async function ringWait(m: Mem, r: number, ready: () => boolean, timeoutMs: number): Promise<void> {
  const w = r >>> 2;
  const seen = Atomics.load(m.i32, w + SEM_WAKE);
  Atomics.store(m.i32, w + SEM_SLEEPING, 1);
  try {
    if (ready()) return;
    const res = Atomics.waitAsync(m.i32, w + SEM_WAKE, seen, timeoutMs);
    if (res.async) {
      // A pending waitAsync holds no reference on Node's event loop; this timer does, so
      // a thread whose only work is this wait does not exit under it. It must outlast the
      // wait: Node's timers count from the loop's cached time, which may lag the moment
      // the wait began by however long the current turn has run.
      const keep = setInterval(() => {}, 1 << 30);
      try {
        await res.value;
      } finally {
        clearInterval(keep);
      }
    }
  } finally {
    Atomics.store(m.i32, w + SEM_SLEEPING, 0);
  }
}
