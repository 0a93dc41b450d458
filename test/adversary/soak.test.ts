/**
 * `pvnet bench soak`'s short path: a few seconds of a good pair at 80 % of its measured
 * rate while the adversary runs random cases against netback on a third guest. Every case
 * must come out as its catalogue says, Domain-0 keep nothing, and every frame lost between
 * the good guests be one netback counted (backpressure), not one that vanished.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { benchSoak } from "../../bench/soak.js";

test("soak: attacked netback keeps the good pair going, cases as expected, losses counted", async () => {
  const rows = await benchSoak({ minutes: 0.1 });
  const total = rows.find((r) => r.name === "soak total");
  assert.ok(total !== undefined, JSON.stringify(rows));
  assert.ok(rows.length >= 3, "per-period rows");
  assert.ok((total.cases as number) >= 3, `${total.cases} cases`);
  assert.equal(total.asExpected, total.cases);
  assert.equal(total.dom0Leaked, "none");
  assert.ok((total.sent as number) > 0 && total.mpps > 0);
  // Lost = sent - received since the window opened; each must be a drop netback counted
  // (tx_dropped on guest2's vif) in the same window, give or take a status period's frames
  // in flight.
  const lost = total.lost as number;
  const counted = total.countedDrops as number;
  assert.ok(Math.abs(lost - counted) <= 512 + lost / 100, JSON.stringify(total));
  for (const r of rows)
    if (r.name !== "soak total") assert.ok((r.rssMiB as number) > 0 && (r.heapMiB as number) > 0);
});
