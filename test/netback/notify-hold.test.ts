/**
 * Receivers' wake-ups held for a TX run (src/netback/notify-hold.ts): a receiver that
 * consumes between the run's rounds (as an awake guest does) and re-arms rsp_event each
 * time is notified once per run, or once per half ring of frames, never once per round,
 * and the last notification of a run comes after its last frame is published.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NotifyHold } from "../../src/netback/notify-hold.js";
import { buildFrame, MAC_BCAST, macOf } from "./frames.js";
import { ALL_FEATURES, type Guest, OneThread } from "./harness.js";

test("NotifyHold: holds only inside a run, nested runs release at the outer end, in order", () => {
  const h = new NotifyHold();
  const sent: string[] = [];
  const q = (name: string) => ({ notifyNow: () => void sent.push(name) });
  assert.equal(h.hold(q("idle")), false, "no run: notify at once");
  h.begin();
  h.begin();
  assert.ok(h.hold(q("a")));
  assert.ok(h.hold(q("b")));
  h.end();
  assert.deepEqual(sent, [], "an inner run's end releases nothing");
  h.end();
  assert.deepEqual(sent, ["a", "b"]);
  assert.equal(h.active, false);
  h.end(); // unbalanced: ignored
  assert.equal(h.hold(q("c")), false);
});

interface Rig {
  t: OneThread;
  a: Guest;
  b: Guest;
  /** rsp_prod of b's RX ring at each notification Domain-0 sent b. */
  notes: number[];
  /** Frames b has consumed. */
  got: () => number;
  /** Sends the burst: see `burst`. */
  burst: (n: number, chunk: number) => void;
}

const frameTo = (dst: Guest, src: Guest): Uint8Array =>
  buildFrame({ dst: macOf(dst.domid), src: macOf(src.domid), len: 60 });

/**
 * Sender a, receiver b. After every switch batch b consumes (re-arming rsp_event, as an
 * awake guest that then sleeps does) and a, running beside Domain-0, publishes its next
 * chunk: so one TX event's run makes several passes, each ending when it has used up what a
 * had published.
 */
function rig(): Rig {
  const t = new OneThread(1024);
  const a = t.addGuest(ALL_FEATURES);
  const b = t.addGuest(ALL_FEATURES);
  for (const g of [a, b]) {
    g.front.postRx();
    g.kick();
  }
  // Each learns the other's MAC.
  for (const g of [a, b]) {
    assert.ok(g.front.send(buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 60 })));
    g.front.pushTx();
    g.kick();
    g.front.reapTx();
  }
  t.runDeferred();
  for (const g of [a, b]) {
    g.front.receiveCount();
    g.kick();
  }
  const notes: number[] = [];
  const ev = t.dom0.evtchn as { send: (port: number) => number };
  const send = ev.send;
  const rx = b.front.rx;
  // b's channel is the one its queue was given after a's (OneThread numbers them in order).
  const bPort = 2;
  ev.send = (port: number) => {
    if (port === bPort) notes.push(rx.rspCons + rx.unconsumedResponses());
    return send(port);
  };
  let got = 0;
  let left = 0;
  let chunk = 1;
  const publish = (): void => {
    const k = Math.min(left, chunk);
    for (let i = 0; i < k; i++) assert.ok(a.front.send(frameTo(b, a)));
    left -= k;
    if (k > 0) a.front.pushTx();
  };
  const irq = b.vif.rxIrq.bind(b.vif);
  b.vif.rxIrq = () => {
    irq();
    got += b.front.receiveCount();
    a.front.reapTx();
    publish();
  };
  const burst = (n: number, c: number): void => {
    left = n;
    chunk = c;
    publish();
    a.kick();
    t.runDeferred();
    a.front.reapTx();
  };
  return { t, a, b, notes, got: () => got, burst };
}

test("a run of several passes wakes its receiver once, after the last pass", () => {
  const r = rig();
  const start = r.b.front.rx.rspCons;
  r.burst(64, 8);
  assert.equal(r.got(), 64);
  assert.deepEqual(r.notes, [start + 64], "one notification, with every frame published");
});

test("property: at most one notification per half ring of frames (plus the run's last), none owed after the run", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 48 }), fc.integer({ min: 1, max: 240 }), (chunk, n) => {
      const r = rig();
      const start = r.b.front.rx.rspCons;
      const half = r.b.front.rx.nrEnts >>> 1;
      r.burst(n, chunk);
      assert.equal(r.got(), n);
      assert.ok(r.notes.length >= 1, "the receiver asked and was never told");
      assert.equal(r.notes.at(-1), start + n, "the last notification came before the last frame");
      assert.ok(
        r.notes.length <= Math.floor(n / half) + 1,
        `${r.notes.length} notifications for ${n} frames`,
      );
      // Between two notifications at most half a ring plus one pass goes out unannounced.
      let prev = start;
      for (const at of r.notes) {
        assert.ok(at - prev <= half + chunk, `${at - prev} frames before a notification`);
        prev = at;
      }
    }),
    { numRuns: 60 },
  );
});
