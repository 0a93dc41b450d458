/**
 * Smoke test for the baselines `pvnet bench ring` prints beside pvnet's ring: each runs briefly and
 * must give a well-formed row. The C ring may be skipped, with its reason, only where no C
 * compiler is installed; with one, a skip would hide a broken ring.c.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { type PostMessageVariant, runPostMessage } from "../../bench/baselines/postmessage.js";
import { runRefRing } from "../../bench/ref/ring-ref.js";
import { type BenchRow, gbpsOf } from "../../bench/result.js";

const SHORT = { warmupMs: 20, measureMs: 100, runs: 1, frameBytes: 64 };

function assertMeasured(row: BenchRow, name: string, batch: number): void {
  assert.equal(row.name, name);
  assert.equal(row.frameBytes, SHORT.frameBytes);
  assert.equal(row.batch, batch);
  assert.equal(row.skipped, undefined, `unexpected skip: ${row.skipped}`);
  assert.ok(Number.isFinite(row.mpps) && row.mpps > 0, `mpps ${row.mpps}`);
  assert.ok(Math.abs(row.gbps - gbpsOf(row.mpps, row.frameBytes)) < 1e-9, `gbps ${row.gbps}`);
  if ("seqErrors" in row) assert.equal(row.seqErrors, 0);
}

function hasCCompiler(): boolean {
  try {
    execFileSync("cc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false; // not installed: the C ring row must then be a skip
  }
}

for (const mode of ["notify", "spin"] as const) {
  test(`runRefRing ${mode} measures the C ring, or skips with a reason without a compiler`, async () => {
    const row = await runRefRing({ ...SHORT, mode, batch: 32 });
    if (hasCCompiler()) {
      assertMeasured(row, `C ring ${mode}`, 32);
    } else {
      assert.equal(row.name, `C ring ${mode}`);
      assert.equal(typeof row.skipped, "string");
      assert.ok((row.skipped as string).length > 0);
    }
  });
}

const cases: [PostMessageVariant, number][] = [
  ["frame", 1],
  ["packed", 32],
  ["transfer", 32],
];
for (const [variant, batch] of cases) {
  test(`runPostMessage ${variant} moves frames in order between two workers`, async () => {
    const row = await runPostMessage({ ...SHORT, variant, batch });
    assertMeasured(row, `postMessage ${variant}`, batch);
  });
}

test("runPostMessage frame rejects a batch other than 1", async () => {
  await assert.rejects(runPostMessage({ ...SHORT, variant: "frame", batch: 32 }), RangeError);
});
