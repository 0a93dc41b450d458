import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { inLanes } from "../../src/base/lanes.js";

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test("inLanes starts steps in index order, never more than `lanes` at once", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 1, max: 10 }),
      async (count, lanes) => {
        const started: number[] = [];
        let inFlight = 0;
        let most = 0;
        await inLanes(count, lanes, async (i) => {
          started.push(i);
          most = Math.max(most, ++inFlight);
          for (let k = i % 3; k >= 0; k--) await tick();
          inFlight--;
        });
        assert.deepEqual(
          started,
          Array.from({ length: count }, (_, i) => i),
        );
        assert.ok(most <= lanes, `${most} in flight with ${lanes} lanes`);
        if (count >= lanes) assert.equal(most, lanes);
      },
    ),
    { numRuns: 60 },
  );
});

test("inLanes throws the first error after the steps in flight settle, and starts no more", async () => {
  const settled: number[] = [];
  const started: number[] = [];
  await assert.rejects(
    inLanes(20, 4, async (i) => {
      started.push(i);
      await tick();
      if (i === 2) throw new Error("step 2");
      if (i === 3) throw new Error("step 3");
      await tick();
      settled.push(i);
    }),
    /step 2/,
  );
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.deepEqual(settled.sort(), [0, 1]);
});
