import { backCounters, guestCounters, type RingPairArgs } from "../../src/demo/ring-proto.js";

/** Ring-pair args for a backend under test: small frames, no echo, fresh shared counters. */
export function demoArgs() {
  const gc = guestCounters();
  const bc = backCounters();
  const args: RingPairArgs = {
    frameBytes: 128,
    batch: 32,
    count: 0,
    order: 0,
    verify: true,
    echo: false,
    budget: 1024,
    guestCounters: gc.buffer,
    backCounters: bc.buffer,
  };
  return { gc, bc, args };
}
