import assert from "node:assert/strict";
import { test } from "node:test";
import { measureScale } from "../../bench/scale.js";
import { measurePing, measureVif } from "../../bench/vif.js";

// Speed is the benches' job; these check that their hosts boot, connect and move frames.
test("bench vif: guest1's frames reach guest2 through netfront, netback and VALE (short run)", async () => {
  const mpps = await measureVif(64, 2, 100, 400);
  assert.ok(mpps > 0, "no frame reached guest2");
});

test("bench vif: the ping run records one RTT per answered echo, percentiles ordered", async () => {
  const row = await measurePing(20);
  assert.equal(row.pings, 20);
  assert.equal(row.lost, 0);
  const p50 = row.p50us as number;
  const p99 = row.p99us as number;
  assert.ok(p50 > 0 && p50 <= p99 && p99 <= (row.maxUs as number), JSON.stringify(row));
});

test("bench scale: three guests connect and the sending pair's frames arrive", async () => {
  const row = await measureScale(3, 100, 400);
  assert.equal(row.guests, 3);
  assert.ok((row.xsRequests as number) > 3 * 50, `xenstore requests ${row.xsRequests}`);
  assert.ok(row.mpps > 0, "no frame arrived");
});
