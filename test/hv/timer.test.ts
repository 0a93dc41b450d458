import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualTimers, NodeTimers } from "../../src/hv/timer.js";

test("nextDueMs: the soonest armed timer, Infinity with none (ManualTimers)", () => {
  const t = new ManualTimers();
  assert.equal(t.nextDueMs(), Number.POSITIVE_INFINITY);
  const a = t.after(30, () => {});
  t.every(10, () => {});
  assert.equal(t.nextDueMs(), 10);
  t.advance(10);
  assert.equal(t.nextDueMs(), 10, "a periodic timer's next run");
  t.advance(5);
  assert.equal(t.nextDueMs(), 5);
  t.cancelAll();
  assert.equal(t.nextDueMs(), Number.POSITIVE_INFINITY);
  t.cancel(a);
});

test("nextDueMs: NodeTimers tracks what it armed, cancelled and ran", async () => {
  const t = new NodeTimers();
  assert.equal(t.nextDueMs(), Number.POSITIVE_INFINITY);
  const far = t.after(10_000, () => {});
  const d = t.nextDueMs();
  assert.ok(d > 9000 && d <= 10_000, `${d}`);
  let ran = false;
  t.after(20, () => {
    ran = true;
  });
  assert.ok(t.nextDueMs() <= 20);
  for (let i = 0; i < 500 && !ran; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ran);
  assert.ok(t.nextDueMs() > 9000, "a timer that ran is no longer due");
  const tick = t.every(30, () => {});
  assert.ok(t.nextDueMs() <= 30);
  t.cancel(tick);
  t.cancel(far);
  assert.equal(t.nextDueMs(), Number.POSITIVE_INFINITY);
});
