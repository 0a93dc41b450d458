import assert from "node:assert/strict";
import { test } from "node:test";
import { buildFrame, macOf } from "./frames.js";
import { OneThread } from "./harness.js";

test("netback's handler calls an event with no TX request, no new RX buffer and no frame placed spurious", () => {
  const t = new OneThread(1024);
  const a = t.addGuest();
  const b = t.addGuest();
  assert.equal(a.fire(), false, "nothing posted, nothing sent");
  assert.equal(b.fire(), false);
  // Buffers posted are the RX event's news, once.
  b.front.postRx();
  assert.equal(b.fire(), true);
  assert.equal(b.fire(), false);
  // A TX request is work, once.
  assert.ok(a.front.send(buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 200 })));
  a.front.pushTx();
  assert.equal(a.fire(), true);
  assert.equal(a.fire(), false, "the same requests again: nothing new");
  t.runDeferred();
  // b took the frame into a posted buffer; posting one again is news, once.
  assert.equal(b.front.receive([], false), 1);
  b.front.postRx();
  assert.equal(b.fire(), true);
  assert.equal(b.fire(), false);
  assert.deepEqual([a.fatal, b.fatal], [[], []]);
});
