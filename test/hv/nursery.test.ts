import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { startWorkerWithNursery } from "../../src/hv/nursery.js";

/** A worker that reports its new space's size, MB, as it starts. */
const REPORT = new URL(
  `data:text/javascript,${encodeURIComponent(
    `import { parentPort } from "node:worker_threads"; import v8 from "node:v8";
     parentPort.postMessage(v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 2 ** 20);`,
  )}`,
);

async function newSpaceMb(w: Worker): Promise<number> {
  try {
    const [mb] = (await once(w, "message")) as [number];
    return mb;
  } finally {
    await w.terminate();
  }
}

test("nursery: a worker started with a 32 MB semi-space has it from the start; the next plain worker does not", async () => {
  const plainBefore = await newSpaceMb(new Worker(REPORT));
  const big = await newSpaceMb(startWorkerWithNursery(REPORT, {}, 32));
  const plainAfter = await newSpaceMb(new Worker(REPORT));
  // V8's new space is the semi-space in use plus its reserve: at least the semi-space.
  assert.ok(big >= 32, `semi-space asked 32 MB, new space ${big} MB`);
  assert.ok(plainBefore < 32 && plainAfter < 32, `plain workers: ${plainBefore} and ${plainAfter} MB`);
});

test("nursery: a size outside 1..256 MB is refused, and starts nothing", () => {
  assert.throws(() => startWorkerWithNursery(REPORT, {}, 0), /semi-space 0 MB/);
  assert.throws(() => startWorkerWithNursery(REPORT, {}, 1.5), RangeError);
});
