import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTable, medianFigures, QUICK_NOTE } from "../../bench/result.js";

test("a row that measures no rate leaves Mpps and Gbit/s blank, and noRate is no column", () => {
  const t = formatTable([
    { name: "vif guest->guest 1q", frameBytes: 64, batch: 32, mpps: 0.87, gbps: 0.45 },
    {
      name: "vif ping RTT guest->guest",
      frameBytes: 98,
      batch: 1,
      mpps: 0,
      gbps: 0,
      noRate: true,
      p50us: 120,
    },
  ]).split("\n");
  assert.deepEqual(
    t[0].split(/\s{2,}/),
    ["case", "frame B", "batch", "Mpps", "Gbit/s", "p50us"],
    "no noRate column",
  );
  assert.match(t[2], /^vif guest->guest 1q\s+64\s+32\s+0\.87\s+0\.45\s*$/);
  assert.match(t[3], /^vif ping RTT guest->guest\s+98\s+1\s+120$/, "no zeros for the rate");
  assert.match(QUICK_NOTE, /^quick run: .*warm-up still excluded/);
});

test("per-thread figures: one column per thread some row has, blank where a row has none", () => {
  const t = formatTable([
    {
      name: "vif",
      frameBytes: 64,
      batch: 32,
      mpps: 1,
      gbps: 0.5,
      cpuNsPerFrame: { tx: 312.4, dom0: 780, rx: 12.34 },
      minorGcsPer1e7Frames: { tx: 0, dom0: 0, rx: 0 },
      // --json only: no column.
      allocBytesPerFrame: { tx: 1.5, dom0: 2, rx: 1 },
    },
    { name: "vale", frameBytes: 64, batch: 32, mpps: 7, gbps: 3.5, cpuNsPerFrame: { thread: 140 } },
  ]).split("\n");
  assert.deepEqual(t[0].split(/\s{2,}/), [
    "case",
    "frame B",
    "batch",
    "Mpps",
    "Gbit/s",
    "tx ns/f",
    "dom0 ns/f",
    "rx ns/f",
    "thread ns/f",
    "tx minGC/1e7f",
    "dom0 minGC/1e7f",
    "rx minGC/1e7f",
  ]);
  assert.deepEqual(t[2].trim().split(/\s+/).slice(5), ["312", "780", "12.3", "0.0", "0.0", "0.0"]);
  assert.deepEqual(t[3].trim().split(/\s+/).slice(5), ["140"]);
});

test("medianFigures: the median per thread, a thread missing from a run left out", () => {
  assert.deepEqual(
    medianFigures([
      { tx: 3, dom0: 10, rx: 1 },
      { tx: 1, dom0: 30, rx: Number.NaN },
      { tx: 2, dom0: 20, rx: 2 },
    ]),
    { tx: 2, dom0: 20 },
  );
});
