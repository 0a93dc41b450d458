import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { vifEthtoolStats, vifQueueCounters } from "../../src/netback/counters.js";

test("ethtool statistics carry xen-netback's names and order, summed over queues", () => {
  const q0 = vifQueueCounters();
  const q1 = vifQueueCounters();
  q0.add("tx_frag_overflow", 2);
  q1.add("tx_frag_overflow", 3);
  q1.add("rx_gso_checksum_fixup");
  q0.add("tx_packets", 100);
  assert.deepEqual(vifEthtoolStats([q0, q1]), [
    ["rx_gso_checksum_fixup", 1],
    ["tx_zerocopy_sent", 0],
    ["tx_zerocopy_success", 0],
    ["tx_zerocopy_fail", 0],
    ["tx_frag_overflow", 5],
  ]);
});

test("another thread reads a queue's counters live from the shared buffer", async () => {
  const q = vifQueueCounters();
  const slot = q.slot("rx_packets");
  const w = new Worker(
    `const { workerData, parentPort } = require("node:worker_threads");
     const f = new Float64Array(workerData.sab);
     parentPort.on("message", () => parentPort.postMessage(f[workerData.slot]));`,
    { eval: true, workerData: { sab: q.buffer, slot } },
  );
  const read = () =>
    new Promise<number>((r) => {
      w.once("message", r);
      w.postMessage(0);
    });
  try {
    assert.equal(await read(), 0);
    q.add("rx_packets", 42);
    assert.equal(await read(), 42);
  } finally {
    await w.terminate();
  }
});
