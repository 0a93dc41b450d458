import assert from "node:assert/strict";
import { test } from "node:test";
import type { BenchRow } from "../../bench/result.js";
import { measureScale, scaleHost } from "../../bench/scale.js";
import {
  addTargetRatios,
  measurePing,
  measureVif,
  VALE3_ROW,
  vifRow,
  WARM_FRAMES,
  WARM_MAX_MS,
  WARM_PINGS,
} from "../../bench/vif.js";
import { W_GO, W_READY, W_RX, W_TX, W_WORDS } from "../../bench/vif-guest.js";
import { sleep, until } from "../../bench/wait.js";
import { Host } from "../../src/toolstack/host.js";

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

test("bench scale: each pair's frames go to its receiver alone (unicast, learnt), and the row has every figure", async () => {
  // Four guests, two pairs: a receiver the switch had not learnt would get its frames flooded
  // to all three other ports, and the delivered count would be about three times the sent.
  const row = await measureScale(4, 100, 600);
  const ratio = row.deliveredOfSent as number;
  assert.ok(ratio > 0.9 && ratio <= 1.01, `delivered per frame sent: ${ratio}`);
  const cpu = row.cpuNsPerFrame as { tx: number; dom0: number; rx: number };
  for (const k of ["tx", "dom0", "rx"] as const)
    assert.ok(Number.isFinite(cpu[k]) && cpu[k] > 0, `${k} CPU per frame: ${cpu[k]}`);
  assert.ok((row.warmMs as number) > 0);
});

test("bench scale: senders wait for the host's go (the boot is timed without traffic)", async () => {
  const words = [0, 1].map(() => new SharedArrayBuffer(W_WORDS * 8));
  const w = words.map((b) => new Float64Array(b));
  const host = await Host.boot(scaleHost(2, false), {
    socketPath: null,
    guestProgram: new URL("../../bench/vif-guest.js", import.meta.url),
    guestExtra: (i) => ({
      role: i === 0 ? "tx" : "rx",
      frameBytes: 64,
      flows: 1,
      peerMac: 0x00163e000000 + (2 - i),
      peerIp: 0x0a000000 + (2 - i),
      words: words[i],
      pings: 0,
      rtts: new SharedArrayBuffer(8),
      waitGo: true,
    }),
  });
  try {
    await until(() => w.every((x) => x[W_READY] === 1), 20_000, "both vifs Connected");
    await sleep(300);
    assert.equal(w[0][W_TX], 0, "the sender sent before the go");
    w[0][W_GO] = 1;
    await until(() => w[1][W_RX] > 1000, 20_000, "frames after the go");
  } finally {
    await host.shutdown();
  }
});

test("bench scale: one guest has no pair: its row is the boot, with no rate", async () => {
  const row = await measureScale(1, 100, 400);
  assert.equal(row.guests, 1);
  assert.equal(row.noRate, true);
  assert.ok((row.connectMs as number) > 0);
});

test("bench vif: each target's ratio is written beside its row, from the same run's baselines", () => {
  const row = (
    name: string,
    frameBytes: number,
    mpps: number,
    extra: Record<string, number> = {},
  ): BenchRow => ({
    name,
    frameBytes,
    batch: 32,
    mpps,
    gbps: 0,
    ...extra,
  });
  const rows = [
    row("vif guest->guest 1q", 64, 3),
    row("vif guest->guest 1q passthrough", 64, 8),
    row("vif guest->guest 2q hash steering", 64, 1),
    row("baseline: VALE 1->1 one thread", 64, 10),
    row("vif guest->guest 1q", 1500, 1),
    row("baseline: VALE 1->1 one thread", 1500, 4),
    row("vif ping RTT guest->guest", 98, 0, { p50us: 90 }),
    row("vif ping RTT guest->guest loop=block", 98, 0, { p50us: 150 }),
    row("baseline: four-hop wake-up (Atomics.wait)", 0, 0, { p50us: 100 }),
    row("baseline: four-hop wake-up (waitAsync)", 0, 0, { p50us: 120 }),
    row(VALE3_ROW, 64, 5),
  ];
  addTargetRatios(rows);
  assert.equal(rows[0].ofVale, 0.3);
  assert.equal(rows[1].ofVale, 0.8);
  assert.equal(rows[2].ofVale, undefined, "a row with no target has no ratio");
  assert.equal(rows[4].ofVale, 0.25, "each size against its own baseline");
  assert.equal(rows[0].ofVale3, 0.6, "the staged row against VALE in three threads");
  assert.equal(rows[1].ofVale3, 1.6);
  assert.equal(rows[4].ofVale3, undefined, "no three-thread baseline at 1500 B in this table");
  assert.equal(rows[2].ofVale3, undefined);
  assert.equal(rows[6].ofFloor, 0.75, "notify guests against the waitAsync floor");
  assert.equal(rows[7].ofFloor, 1.5, "blocking guests against the Atomics.wait floor");
});
