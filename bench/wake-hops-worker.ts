/**
 * One thread of the four-hop wake-up baseline (bench/wake-hops.ts): A sends a token to B,
 * B passes it to C, C hands it back to B, B back to A, as a ping goes guest -> Domain-0 ->
 * guest and back. Each thread's inbox is a counter word; a sender bumps it and calls
 * Atomics.notify only when the receiver said it sleeps, as EventChannels.send does, so
 * the figure is what pvnet's own wake-up protocol costs with nothing else in the way.
 */
import { parentPort, workerData } from "node:worker_threads";
import { HOP_A, HOP_B, HOP_C, HOP_STOP, type HopArgs, hopInbox, hopSleeping } from "./wake-hops-proto.js";

const a = workerData as HopArgs;
const w = new Int32Array(a.words);
const rtts = new Float64Array(a.rtts);
const me = a.role;
const inbox = hopInbox(me);
const sleeping = hopSleeping(me);
// The middle thread spins in "spin" mode (Domain-0 polling); the ends always block.
const spins = a.prim === "spin" && me === HOP_B;

function send(to: number): void {
  Atomics.add(w, hopInbox(to), 1);
  if (Atomics.load(w, hopSleeping(to)) !== 0) Atomics.notify(w, hopInbox(to), 1);
}

/** Waits until the inbox moves past `seen` (or stop); returns the new count, -1 on stop. */
function waitSync(seen: number): number {
  for (;;) {
    const v = Atomics.load(w, inbox);
    if (v !== seen) return v;
    if (Atomics.load(w, HOP_STOP) !== 0) return -1;
    if (spins) continue;
    Atomics.store(w, sleeping, 1);
    if (Atomics.load(w, inbox) === seen) Atomics.wait(w, inbox, seen, 200);
    Atomics.store(w, sleeping, 0);
  }
}

async function waitAsyncOnce(seen: number): Promise<number> {
  for (;;) {
    const v = Atomics.load(w, inbox);
    if (v !== seen) return v;
    if (Atomics.load(w, HOP_STOP) !== 0) return -1;
    Atomics.store(w, sleeping, 1);
    const r = Atomics.waitAsync(w, inbox, seen, 200);
    if (r.async) await r.value;
    Atomics.store(w, sleeping, 0);
  }
}

const next = (seen: number): number | Promise<number> =>
  a.prim === "waitAsync" ? waitAsyncOnce(seen) : waitSync(seen);

async function run(): Promise<void> {
  let seen = 0;
  if (me === HOP_A) {
    const total = a.warm + a.pings;
    for (let i = 0; i < total; i++) {
      const t0 = performance.now();
      send(HOP_B);
      seen = await next(seen);
      if (seen < 0) break;
      if (i >= a.warm) rtts[i - a.warm] = (performance.now() - t0) * 1000;
    }
    Atomics.store(w, HOP_STOP, 1);
    for (const t of [HOP_B, HOP_C]) Atomics.notify(w, hopInbox(t));
  } else {
    let fromA = true;
    for (;;) {
      seen = await next(seen);
      if (seen < 0) break;
      if (me === HOP_C) send(HOP_B);
      else {
        send(fromA ? HOP_C : HOP_A);
        fromA = !fromA;
      }
    }
  }
  parentPort?.postMessage("done");
}

// A pending waitAsync does not keep a worker alive; its message port does, as a domain's does.
parentPort?.on("message", () => {});
void run();
