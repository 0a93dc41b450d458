import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { attachRemotePort } from "../../src/vale/remote.js";
import { ValeSwitch } from "../../src/vale/switch.js";

function user(desc: unknown, role: "tx" | "rx", count: number): Promise<Record<string, number>> {
  const w = new Worker(new URL("./programs/remote-user.js", import.meta.url), {
    workerData: { desc, role, count },
  });
  return new Promise((resolve, reject) => {
    w.once("message", (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once("error", reject);
  });
}

test("VALE ports owned by two other threads: frames cross the switch in order; drops only where counted", async () => {
  const sw = new ValeSwitch("vale0");
  const a = attachRemotePort(sw, "vale0:a", 256);
  const b = attachRemotePort(sw, "vale0:b", 256);
  try {
    const N = 200_000;
    const rx = user(b.desc, "rx", N);
    const tx = await user(a.desc, "tx", N);
    const got = await rx;
    assert.equal(tx.sent, N);
    assert.equal(got.outOfOrder, 0, "nothing out of order");
    const forwarded = a.bwrap.counters.get("txPackets");
    const dropped = b.bwrap.counters.get("rxDrops");
    assert.equal(forwarded, N, "the switch forwarded every frame the sender's thread sent");
    assert.equal(got.got + dropped, N, "every frame arrived or was counted as dropped");
    assert.ok(got.got > 0);
  } finally {
    await a.stop();
    await b.stop();
  }
});
