import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTable, QUICK_NOTE } from "../../bench/result.js";

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
