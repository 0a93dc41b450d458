import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createLink,
  EVTCHN_NR_PORTS,
  EventChannels,
  PORT_INTERDOMAIN,
  portWord,
  SIDE_SLEEPING,
  SIDE_WAKE,
} from "../../src/hv/evtchn.js";

/** Domains 0 and 3 with dom0 port 5 bound to dom3 port 9, in one thread. */
function pair() {
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p0)[5] = portWord(PORT_INTERDOMAIN, 3, 9);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  const link = createLink();
  const e0 = new EventChannels(0, p0);
  const e3 = new EventChannels(3, p3);
  const s0 = e0.addLink(3, link);
  const s3 = e3.addLink(0, link);
  return { e0, e3, s0, s3 };
}

test("events coalesce: many sends before a dispatch run the handler once", () => {
  const { e0, e3, s3 } = pair();
  let ran = 0;
  e3.on(9, (p) => {
    assert.equal(p, 9);
    ran++;
  });
  for (let i = 0; i < 5; i++) assert.equal(e0.send(5), 0);
  assert.ok(e3.hasSelected(s3));
  assert.equal(e3.dispatch(s3), 1);
  assert.equal(ran, 1);
  assert.equal(e3.dispatch(s3), 0);
  assert.equal(e0.send(5), 0);
  assert.equal(e3.dispatch(s3), 1);
  assert.equal(ran, 2);
});

test("a masked port keeps its event until unmasked, then it is delivered", () => {
  const { e0, e3, s3 } = pair();
  let ran = 0;
  let late = 0;
  e3.onLatePending = () => late++;
  e3.on(9, () => {
    ran++;
  });
  e3.mask(9);
  e0.send(5);
  e3.dispatch(s3);
  assert.equal(ran, 0);
  e3.unmask(9);
  assert.equal(late, 1, "unmask found the pending event");
  e3.dispatch(s3);
  assert.equal(ran, 1);
});

test("an event for a port with no handler yet waits for the handler", () => {
  const { e0, e3, s3 } = pair();
  let late = 0;
  e3.onLatePending = () => late++;
  e0.send(5);
  assert.equal(e3.dispatch(s3), 0);
  let ran = 0;
  e3.on(9, () => {
    ran++;
  });
  assert.equal(late, 1);
  e3.dispatch(s3);
  assert.equal(ran, 1);
});

test("wake-ups are sent only to a sleeping domain; unbound and out-of-range ports refuse", () => {
  const { e0, e3, s3 } = pair();
  e3.on(9, () => {});
  e0.send(5);
  assert.equal(e0.stats.wakes, 0);
  e3.dispatch(s3);
  Atomics.store(s3.w, s3.base + SIDE_SLEEPING, 1);
  e0.send(5);
  assert.equal(e0.stats.wakes, 1);
  assert.equal(e0.send(6), -1);
  assert.equal(e0.send(0), -1);
  assert.equal(e0.send(EVTCHN_NR_PORTS), -1);
  assert.equal(e0.send(1.5), -1);
});

test("a handler that throws costs no other port its event", () => {
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  // Ports 9, 10 and 40 of dom3 (two in one pending word, one in another), bound to dom0.
  for (const [l, r] of [
    [9, 5],
    [10, 6],
    [40, 7],
  ]) {
    new Uint32Array(p3)[l] = portWord(PORT_INTERDOMAIN, 0, r);
    new Uint32Array(p0)[r] = portWord(PORT_INTERDOMAIN, 3, l);
  }
  const link = createLink();
  const e0 = new EventChannels(0, p0);
  const e3 = new EventChannels(3, p3);
  e0.addLink(3, link);
  const s3 = e3.addLink(0, link);
  const errors: unknown[] = [];
  e3.onHandlerError = (e) => errors.push(e);
  const ran: number[] = [];
  e3.on(9, () => {
    ran.push(9);
    throw new Error("driver bug");
  });
  e3.on(10, () => {
    ran.push(10);
  });
  e3.on(40, () => {
    ran.push(40);
  });
  for (const p of [5, 6, 7]) e0.send(p);
  assert.equal(e3.dispatch(s3), 3);
  assert.deepEqual(ran, [9, 10, 40]);
  assert.equal(errors.length, 1);
  assert.equal(e3.dispatch(s3), 0, "nothing left pending");
});

test("one wake-up per sleep: a batch's sends to several ports of a sleeping domain wake it once", () => {
  // Two channels, dom0 5 -> dom3 9 and dom0 6 -> dom3 10 (netback's split TX and RX, say).
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p0)[5] = portWord(PORT_INTERDOMAIN, 3, 9);
  new Uint32Array(p0)[6] = portWord(PORT_INTERDOMAIN, 3, 10);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  new Uint32Array(p3)[10] = portWord(PORT_INTERDOMAIN, 0, 6);
  const link = createLink();
  const e0 = new EventChannels(0, p0);
  const e3 = new EventChannels(3, p3);
  e0.addLink(3, link);
  const s3 = e3.addLink(0, link);
  let ran = 0;
  e3.on(9, () => {
    ran++;
  });
  e3.on(10, () => {
    ran++;
  });
  const wake = s3.base + SIDE_WAKE;
  Atomics.store(s3.w, s3.base + SIDE_SLEEPING, 1);
  e0.send(5);
  e0.send(6);
  assert.equal(e0.stats.wakes, 1, "the first send took the flag; the second found the domain woken");
  assert.equal(Atomics.load(s3.w, wake), 1);
  assert.equal(e3.dispatch(s3), 2, "both events are there for the one wake-up");
  assert.equal(ran, 2);
  // Asleep again: the next batch wakes it again.
  Atomics.store(s3.w, s3.base + SIDE_SLEEPING, 1);
  e0.send(6);
  e0.send(5);
  assert.equal(e0.stats.wakes, 2);
  assert.equal(Atomics.load(s3.w, wake), 2);
});
