import assert from "node:assert/strict";
import { test } from "node:test";
import { Machine } from "../../src/hv/machine.js";
import {
  createProbe,
  ownThreadCpuNs,
  ownThreadId,
  readProbe,
  requestProbe,
  sampleDelta,
  startThreadProbe,
} from "../../src/hv/thread-probe.js";

const churn = new URL("./programs/churn.js", import.meta.url);
const linux = process.platform === "linux";

test("thread probe: a domain's CPU time and minor GCs are read from the main thread", async (t) => {
  if (!linux) return t.skip("per-thread schedstat is Linux's");
  const m = new Machine();
  try {
    const d = await m.createDomain({ name: "dom0", pages: 16, program: churn, args: { ms: 300 } });
    // GC entries reach the worker's observer after the GC, on its event loop: wait for them.
    const end = performance.now() + 10_000;
    let s = m.threadSample(d)!;
    while (s.minorGcs === 0 && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
      s = m.threadSample(d)!;
    }
    assert.ok(s.minorGcs > 0, `young garbage for 300 ms and no scavenge counted: ${JSON.stringify(s)}`);
    // At least part of the 300 ms spin ran on a CPU (the machine may be loaded, not idle).
    assert.ok(s.cpuNs > 50e6, `cpu ${s.cpuNs} ns`);
    assert.equal(m.threadSample(99), undefined);
  } finally {
    await m.shutdown();
  }
});

test("thread probe: this thread's own CPU time grows as it works, a probe without a thread says NaN", (t) => {
  if (!linux) return t.skip("per-thread schedstat is Linux's");
  assert.ok(ownThreadId() > 0);
  const c0 = ownThreadCpuNs();
  const end = performance.now() + 50;
  while (performance.now() < end);
  assert.ok(ownThreadCpuNs() - c0 > 1e6);
  const p = createProbe();
  assert.ok(Number.isNaN(readProbe(p).cpuNs), "no tid yet: no file named");
  startThreadProbe(p);
  const a = readProbe(p);
  assert.ok(a.cpuNs > 0);
  assert.ok(Number.isNaN(a.allocBytes), "never asked: no allocation figure");
  assert.deepEqual(sampleDelta(a, a), { cpuNs: 0, minorGcs: 0, majorGcs: 0, allocBytes: Number.NaN });
});

/** Garbage of a known size: a holey array of 126 slots is a 32-byte JSArray and a 1024-byte FixedArray. */
const sink: unknown[] = [null];
function garbage(n: number): void {
  for (let i = 0; i < n; i++) sink[0] = new Array(126);
}
const ARRAY_BYTES = 32 + 16 + 126 * 8;

test("thread probe: the bytes a thread allocates, counted exactly across scavenges", async () => {
  const p = createProbe();
  startThreadProbe(p);
  assert.equal(await requestProbe(p), true);
  for (const n of [0, 1_000, 50_000]) {
    const a = readProbe(p);
    garbage(n);
    assert.equal(await requestProbe(p), true);
    const b = readProbe(p);
    const bytes = b.allocBytes - a.allocBytes;
    // The probe's own answer allocates a few kB (heap statistics, a waitAsync promise).
    assert.ok(
      bytes >= n * ARRAY_BYTES,
      `${n} arrays: ${bytes} bytes counted, at least ${n * ARRAY_BYTES} made`,
    );
    assert.ok(bytes < n * ARRAY_BYTES * 1.05 + 64_000, `${n} arrays: ${bytes} bytes counted`);
  }
});

test("thread probe: a domain thread answers a sample request with its allocation figure", async () => {
  const m = new Machine();
  try {
    const d = await m.createDomain({ name: "dom0", pages: 16, program: churn, args: { ms: 100 } });
    const s = (await m.threadSampleNow(d))!;
    // churn.ts made 64-slot arrays for 100 ms: megabytes, whatever the machine's load.
    assert.ok(s.allocBytes > 100_000, `allocBytes ${s.allocBytes}`);
    assert.equal(await m.threadSampleNow(99), undefined);
  } finally {
    await m.shutdown();
  }
});
