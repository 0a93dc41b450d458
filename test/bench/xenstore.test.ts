import assert from "node:assert/strict";
import { test } from "node:test";
import { BENCHES } from "../../bench/index.js";
import { measureXsRing, measureXsSocket } from "../../bench/xenstore.js";
import { XS_BENCH_OPS } from "../../bench/xenstore-load.js";

test("pvnet bench xenstore counts every op over the socket and over a guest's ring (short run)", async () => {
  assert.ok(BENCHES.xenstore !== undefined);
  const a = { outstanding: 64, warmupMs: 20, measureMs: 80 };
  for (const r of [await measureXsSocket(a), await measureXsRing(a)]) {
    for (const op of XS_BENCH_OPS) assert.ok(r[op] > 100, `${op}: only ${r[op]} ops/s`);
  }
});
