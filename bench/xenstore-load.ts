/**
 * The xenstore benchmark's workload, the same over any client (unix socket or guest ring):
 * reads, writes, directory listings and transactions, each with `outstanding` requests in
 * flight, counted over a fixed window after a warm-up. Paths are relative to the caller's
 * home, so Domain-0 and a guest run identical requests.
 */
import type { XsClient } from "../src/xenstore/client.js";

export const XS_BENCH_OPS = ["read", "write", "directory", "transaction"] as const;
export type XsBenchOp = (typeof XS_BENCH_OPS)[number];

/** Guests may hold 10 transactions open (C xenstored's quota): stay under it. */
export const XS_BENCH_MAX_TXNS = 8;

/** Under data/, the part of its home a guest may write (libxl's layout). */
const BASE = "data/bench";

export interface XsLoadArgs {
  outstanding: number;
  warmupMs: number;
  measureMs: number;
}

/** Operations per second for each op. */
export type XsLoadResult = Record<XsBenchOp, number>;

export async function prepareXsLoad(c: XsClient): Promise<void> {
  await c.write(`${BASE}/k`, "a value of some thirty-two bytes");
  await Promise.all(Array.from({ length: 16 }, (_, i) => c.write(`${BASE}/dir/child-${i}`, "")));
}

function opOf(c: XsClient, op: XsBenchOp): (slot: number) => Promise<unknown> {
  switch (op) {
    case "read":
      return () => c.read(`${BASE}/k`);
    case "write":
      return (slot) => c.write(`${BASE}/w${slot}`, "a value of some thirty-two bytes");
    case "directory":
      return () => c.directory(`${BASE}/dir`);
    case "transaction":
      // Each slot has its own node, so commits do not conflict with each other.
      return (slot) =>
        c.transaction(async (tx) => {
          const v = await tx.read(`${BASE}/k`);
          await tx.write(`${BASE}/t${slot}`, v);
        });
  }
}

async function window(
  run: (slot: number) => Promise<unknown>,
  outstanding: number,
  ms: number,
): Promise<number> {
  let n = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: outstanding }, async (_, slot) => {
      while (performance.now() < end) {
        await run(slot);
        n++;
      }
    }),
  );
  return n / ((performance.now() - start) / 1000);
}

export async function runXsLoad(c: XsClient, a: XsLoadArgs): Promise<XsLoadResult> {
  await prepareXsLoad(c);
  const out = {} as XsLoadResult;
  for (const op of XS_BENCH_OPS) {
    const k = op === "transaction" ? Math.min(a.outstanding, XS_BENCH_MAX_TXNS) : a.outstanding;
    const run = opOf(c, op);
    await window(run, k, a.warmupMs);
    out[op] = await window(run, k, a.measureMs);
  }
  return out;
}

export function outstandingFor(op: XsBenchOp, outstanding: number): number {
  return op === "transaction" ? Math.min(outstanding, XS_BENCH_MAX_TXNS) : outstanding;
}
