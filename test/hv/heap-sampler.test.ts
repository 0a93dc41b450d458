import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseHeapSampleSpec, startHeapSampling } from "../../src/hv/heap-sampler.js";

test("heap sampler: PVNET_HEAP_SAMPLE's syntax, defaults, and what it refuses", () => {
  assert.equal(parseHeapSampleSpec(undefined), null);
  assert.equal(parseHeapSampleSpec(""), null);
  assert.deepEqual(parseHeapSampleSpec("/tmp/x"), {
    dir: "/tmp/x",
    delayMs: 3000,
    windowMs: 2500,
    intervalBytes: 256,
  });
  assert.deepEqual(parseHeapSampleSpec("/tmp/x,10,20,64"), {
    dir: "/tmp/x",
    delayMs: 10,
    windowMs: 20,
    intervalBytes: 64,
  });
  assert.equal(parseHeapSampleSpec("/tmp/x,soon"), null);
  assert.equal(parseHeapSampleSpec(",10"), null);
});

const sink: unknown[] = [null];
function makeGarbageHere(): void {
  for (let i = 0; i < 2000; i++) sink[0] = new Array(64);
}

type Node = { callFrame: { functionName: string }; selfSize: number; children: Node[] };

test("heap sampler: a window's profile names the function that made short-lived garbage", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-heap-sample-"));
  try {
    startHeapSampling({ dir, delayMs: 10, windowMs: 300, intervalBytes: 1024 }, "me");
    const file = join(dir, "me.heapprofile");
    const end = performance.now() + 10_000;
    while (!existsSync(file) && performance.now() < end) {
      makeGarbageHere();
      await new Promise((r) => setTimeout(r, 5));
    }
    const bytesIn = (n: Node, name: string): number =>
      (n.callFrame.functionName === name ? n.selfSize : 0) +
      n.children.reduce((a, c) => a + bytesIn(c, name), 0);
    const head = (JSON.parse(readFileSync(file, "utf8")) as { head: Node }).head;
    // Every array was garbage at once: only a profile that keeps collected objects has them.
    assert.ok(bytesIn(head, "makeGarbageHere") > 100_000, "the garbage maker's bytes are in the profile");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
