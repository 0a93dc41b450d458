import assert from "node:assert/strict";
import { test } from "node:test";
import { RX_POLL_MS } from "../../src/netback/rx-poll.js";
import { buildFrame, macOf } from "./frames.js";
import type { RxFrame } from "./front-sim.js";
import { ALL_FEATURES, OneThread } from "./harness.js";

test("a frontend without feature-rx-notify: frames waiting for buffers go once it posts them, found by netback's poll, with no event from the guest", () => {
  const t = new OneThread(1024);
  const a = t.addGuest(ALL_FEATURES);
  const b = t.addGuest({ ...ALL_FEATURES, rxNotify: false });
  a.front.postRx();
  a.kick();
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 5; i++) {
    const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 200, seq: i });
    sent.push(f);
    assert.ok(a.front.send(f));
  }
  a.front.pushTx();
  a.kick();
  t.runDeferred();
  assert.equal(b.vif.rxBacklog(0).frames, 5, "no buffers yet: the frames wait");
  b.front.postRx(); // never kicked: this frontend does not notify
  t.timers.advance(RX_POLL_MS - 1);
  assert.equal(b.vif.rxBacklog(0).frames, 5, "not before the poll");
  t.timers.advance(1);
  assert.equal(b.vif.rxBacklog(0).frames, 0, "the poll found the buffers");
  const got: RxFrame[] = [];
  b.front.receive(got, false);
  assert.deepEqual(
    got.map((f) => f.data),
    sent,
    "every frame, in order, intact",
  );
  t.timers.advance(10 * RX_POLL_MS);
  assert.equal(t.timers.active, 0, "an idle queue keeps no timer");
});
