import assert from "node:assert/strict";
import { test } from "node:test";
import { UNLIMITED } from "../../src/netback/credit.js";
import { buildFrame, MAC_BCAST, macOf } from "./frames.js";
import { ALL_FEATURES, OneThread } from "./harness.js";

test("a vif over its rate: requests past the credit stay on the ring unanswered until the timer, then go; the other vif is never held; the guest is never disconnected", () => {
  const t = new OneThread(1024);
  const a = t.addGuest(ALL_FEATURES);
  const b = t.addGuest(ALL_FEATURES);
  a.vif.setRate({ bytes: 3000, usec: 50_000 });
  const frame = (g: typeof a) => buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 1000 });
  const answered = (g: typeof a) => {
    g.front.reapTx();
    return g.front.txAnswered;
  };
  const a0 = answered(a);
  for (let i = 0; i < 6; i++) assert.ok(a.front.send(frame(a)));
  a.front.pushTx();
  a.kick();
  t.runDeferred();
  assert.equal(answered(a) - a0, 3, "3000 bytes of credit: three frames");
  assert.equal(a.vif.queueCounters()[0].get("tx_credit_waits"), 1);
  a.kick();
  a.kick();
  t.runDeferred();
  assert.equal(answered(a) - a0, 3, "notifies while waiting take nothing");
  const b0 = answered(b);
  for (let i = 0; i < 20; i++) {
    assert.ok(b.front.send(frame(b)));
    b.front.pushTx();
    b.kick();
  }
  t.runDeferred();
  assert.equal(answered(b) - b0, 20, "the unlimited vif is not held");
  t.timers.advance(50);
  t.runDeferred();
  assert.equal(answered(a) - a0, 6, "the timer's credit lets the rest go");
  a.vif.setRate(UNLIMITED);
  for (let i = 0; i < 30; i++) assert.ok(a.front.send(frame(a)));
  a.front.pushTx();
  a.kick();
  t.runDeferred();
  assert.equal(answered(a) - a0, 36, "unlimited again: everything at once");
  assert.deepEqual([a.fatal, b.fatal], [[], []]);
});
