import assert from "node:assert/strict";
import { test } from "node:test";
import { measureScale } from "../../bench/scale.js";
import { measurePing, measureVif, vifRow, WARM_FRAMES, WARM_MAX_MS, WARM_PINGS } from "../../bench/vif.js";

// Speed is the benches' job; these check that their hosts boot, connect and move frames.
test("bench vif: guest1's frames reach guest2 through netfront, netback and VALE (short run)", async () => {
  const r = await measureVif(64, 2, 100, 400);
  assert.ok(r.mpps > 0, "no frame reached guest2");
  // A quick run's window opens after the JIT's start (its first 20 000 frames run at a
  // fiftieth of the rate), not after a fixed 100 ms inside it.
  assert.ok(r.warmupMs >= 100, `warm-up ${r.warmupMs} ms`);
  assert.ok(r.warmupFrames >= WARM_FRAMES || r.warmupMs >= WARM_MAX_MS, JSON.stringify(r));
  // Each of the three threads ran in the window: CPU time per frame (Linux's schedstat).
  if (process.platform === "linux")
    for (const [who, s] of Object.entries(r.threads))
      assert.ok(s.cpuNs > 0 && s.minorGcs >= 0, `${who}: ${JSON.stringify(s)}`);
  const row = vifRow("x", 64, [r]);
  assert.equal(row.mpps, r.mpps);
  assert.ok(row.cpuNsPerFrame?.dom0 === r.threads.dom0.cpuNs / r.frames, JSON.stringify(row));
  // Each thread answered the probe at both ends of the window: its young bytes per frame.
  for (const who of ["tx", "dom0", "rx"] as const)
    assert.ok(row.allocBytesPerFrame?.[who] === r.threads[who].allocBytes / r.frames, JSON.stringify(row));
});

test("bench vif: the staging-grants: false host moves frames too (short run)", async () => {
  const r = await measureVif(64, 1, 100, 400, "notify", true, false);
  assert.ok(r.mpps > 0, "no frame reached guest2 with grant copies");
});

test("bench vif: the rx-mode=flip host moves frames too (short run)", async () => {
  const r = await measureVif(1500, 1, 100, 400, "notify", true, false, undefined, "flip");
  assert.ok(r.mpps > 0, "no frame reached guest2 by page transfer");
});

test("bench vif: the ping run records one RTT per answered echo, percentiles ordered", async () => {
  const row = await measurePing(20);
  assert.ok(WARM_PINGS > 0);
  assert.equal(row.noRate, true, "a latency row has no rate to print");
  assert.equal(row.pings, 20);
  assert.equal(row.lost, 0);
  const p50 = row.p50us as number;
  const p99 = row.p99us as number;
  assert.ok(p50 > 0 && p50 <= p99 && p99 <= (row.maxUs as number), JSON.stringify(row));
});

test("bench vif: pings cross passthrough vifs, every one answered", async () => {
  const row = await measurePing(200, "notify", undefined, true);
  assert.equal(row.pings, 200);
  assert.equal(row.lost, 0);
});

test("bench scale: three guests connect and the sending pair's frames arrive", async () => {
  const row = await measureScale(3, 100, 400);
  assert.equal(row.guests, 3);
  assert.ok((row.xsRequests as number) > 3 * 50, `xenstore requests ${row.xsRequests}`);
  assert.ok(row.mpps > 0, "no frame arrived");
  assert.equal(row.noRate, undefined);
});

test("bench scale: one guest has no pair: its row is the boot, with no rate", async () => {
  const row = await measureScale(1, 100, 400);
  assert.equal(row.guests, 1);
  assert.equal(row.noRate, true);
  assert.ok((row.connectMs as number) > 0);
});
