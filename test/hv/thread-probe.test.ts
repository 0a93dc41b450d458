import assert from "node:assert/strict";
import { test } from "node:test";
import { Machine } from "../../src/hv/machine.js";
import {
  createProbe,
  ownThreadCpuNs,
  ownThreadId,
  readProbe,
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
  assert.deepEqual(sampleDelta(a, a), { cpuNs: 0, minorGcs: 0, majorGcs: 0 });
});
