import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  createLink,
  EVTCHN_NR_PORTS,
  EventChannels,
  PORT_INTERDOMAIN,
  portWord,
  SIDE_MASK,
  SIDE_PENDING,
  SIDE_SEL,
} from "../../src/hv/evtchn.js";
import { EventLoop } from "../../src/hv/loop.js";
import { ManualTimers, NodeTimers } from "../../src/hv/timer.js";

/** dom0 port 5 bound to dom3 port 9; dom3's late-EOI holds timed by hand. */
function pair(threshold = 1) {
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p0)[5] = portWord(PORT_INTERDOMAIN, 3, 9);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  const link = createLink();
  const timers = new ManualTimers();
  const e0 = new EventChannels(0, p0);
  const e3 = new EventChannels(3, p3, { timers, lateEoi: { threshold } });
  e0.addLink(3, link);
  const s3 = e3.addLink(0, link);
  return { e0, e3, s3, timers, w: s3.w, base: s3.base };
}

/** Sends one event and dispatches; returns whether the handler ran. */
function event(r: ReturnType<typeof pair>, runs: { n: number }): boolean {
  const before = runs.n;
  r.e0.send(5);
  r.e3.dispatch(r.s3);
  return runs.n > before;
}

test("a port whose events find no work is held back 1, 2, 4 ... ms up to 1 s, and its event is kept", () => {
  const r = pair();
  const runs = { n: 0 };
  r.e3.on(9, () => {
    runs.n++;
    return false;
  });
  assert.ok(event(r, runs));
  assert.deepEqual(r.e3.portStats(9), { spurious: 1, delayMs: 0, held: false }, "the first one is free");
  assert.ok(event(r, runs));
  const delays: number[] = [];
  for (let i = 0; i < 13; i++) {
    const st = r.e3.portStats(9);
    assert.ok(st.held);
    delays.push(st.delayMs);
    // Held: a send neither runs the handler nor wakes anyone, but its event is kept.
    const wakes = r.e0.stats.wakes;
    assert.ok(!event(r, runs));
    assert.equal(r.e0.stats.wakes, wakes);
    r.timers.advance(st.delayMs - 1);
    r.e3.dispatch(r.s3);
    assert.ok(r.e3.portStats(9).held, "still held 1 ms before the end");
    let late = 0;
    r.e3.onLatePending = () => late++;
    r.timers.advance(1);
    assert.equal(late, 1, "the hold's end found the kept event");
    const before = runs.n;
    r.e3.dispatch(r.s3);
    assert.equal(runs.n, before + 1, "and delivered it");
  }
  assert.deepEqual(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000, 1000]);
  assert.equal(runs.n, 2 + 13);
  assert.equal(r.e3.stats.spurious, runs.n);
  assert.equal(r.e3.portStats(9).spurious, runs.n);
  assert.equal(r.e3.stats.lateEoiHolds, 14);
  assert.equal(r.e3.stats.lastDelayMs, 1000);
});

test("an event that finds work ends the backoff: the next spurious one is free again", () => {
  const r = pair();
  let work = false;
  const runs = { n: 0 };
  r.e3.on(9, () => {
    runs.n++;
    return work;
  });
  for (let i = 0; i < 4; i++) {
    event(r, runs);
    r.timers.advance(2000);
  }
  assert.ok(r.e3.portStats(9).delayMs >= 4);
  work = true;
  assert.ok(event(r, runs));
  assert.equal(r.e3.portStats(9).delayMs, 0);
  assert.equal(r.e3.stats.heldPorts, 0);
  work = false;
  assert.ok(event(r, runs));
  assert.equal(r.e3.portStats(9).held, false, "the first spurious event after work is free");
  assert.ok(event(r, runs));
  assert.equal(r.e3.portStats(9).delayMs, 1, "and the backoff starts again from 1 ms");
});

test("a hold is private: the peer clearing the mask bit or forging pending and selector bits runs nothing", () => {
  const r = pair();
  const runs = { n: 0 };
  r.e3.on(9, () => {
    runs.n++;
    return false;
  });
  event(r, runs);
  event(r, runs);
  assert.ok(r.e3.portStats(9).held);
  const n = runs.n;
  const empty = r.e3.stats.emptyPasses;
  for (let i = 0; i < 100; i++) {
    Atomics.store(r.w, r.base + SIDE_MASK, 0);
    Atomics.or(r.w, r.base + SIDE_PENDING, 1 << 9);
    Atomics.or(r.w, r.base + SIDE_SEL, 1);
    r.e3.dispatch(r.s3);
  }
  assert.equal(runs.n, n);
  assert.equal(r.e3.stats.emptyPasses - empty, 100);
});

test("a driver's unmask does not end a hold, and its mask outlasts one", () => {
  const r = pair();
  const runs = { n: 0 };
  r.e3.on(9, () => {
    runs.n++;
    return false;
  });
  event(r, runs);
  event(r, runs);
  r.e0.send(5);
  r.e3.mask(9);
  r.e3.unmask(9);
  r.e3.dispatch(r.s3);
  assert.equal(runs.n, 2, "unmask during the hold delivered nothing");
  r.e3.mask(9);
  r.timers.advance(1);
  r.e3.dispatch(r.s3);
  assert.equal(runs.n, 2, "masked by the driver after the hold: still nothing");
  r.e3.unmask(9);
  r.e3.dispatch(r.s3);
  assert.equal(runs.n, 3);
});

test("off() ends a hold and forgets the port's history; no timer is left behind", () => {
  const r = pair();
  const runs = { n: 0 };
  r.e3.on(9, () => {
    runs.n++;
    return false;
  });
  event(r, runs);
  event(r, runs);
  assert.equal(r.timers.active, 1);
  r.e3.off(9);
  assert.equal(r.timers.active, 0);
  assert.equal(r.e3.stats.heldPorts, 0);
  assert.deepEqual(r.e3.portStats(9), { spurious: 0, delayMs: 0, held: false });
  r.e3.on(9, () => {
    runs.n++;
  });
  r.e3.dispatch(r.s3);
  r.e0.send(5);
  r.e3.dispatch(r.s3);
  assert.equal(runs.n, 3, "the new handler gets events at once");
});

test("property: over any sequence of work and no-work events, the hold follows the model", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 3 }),
      fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
      (threshold, outcomes) => {
        const r = pair(threshold);
        let i = 0;
        let runs = 0;
        r.e3.on(9, () => {
          runs++;
          return outcomes[i];
        });
        let run = 0;
        let spurious = 0;
        for (i = 0; i < outcomes.length; i++) {
          r.e0.send(5);
          r.e3.dispatch(r.s3);
          if (outcomes[i]) run = 0;
          else {
            run++;
            spurious++;
          }
          const st = r.e3.portStats(9);
          const held = run > threshold;
          assert.equal(st.held, held);
          if (held) assert.equal(st.delayMs, Math.min(1000, 2 ** (run - 1 - threshold)));
          if (run === 0) assert.equal(st.delayMs, 0);
          assert.equal(st.spurious, spurious);
          // The longest hold ends; nothing was sent meanwhile, so nothing is kept.
          r.timers.advance(1000);
        }
        assert.equal(runs, outcomes.length);
        assert.equal(r.e3.stats.spurious, spurious);
      },
    ),
  );
});

test("with a real loop asleep, an event kept through holds is delivered when each hold ends", async () => {
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p0)[5] = portWord(PORT_INTERDOMAIN, 3, 9);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  const link = createLink();
  const timers = new NodeTimers();
  const e0 = new EventChannels(0, p0);
  const e3 = new EventChannels(3, p3, { timers });
  e0.addLink(3, link);
  e3.addLink(0, link);
  const loop = new EventLoop(e3, { mode: "notify" });
  let runs = 0;
  e3.on(9, () => {
    runs++;
    // Each run asks for the next event at once: the only way it arrives is a hold's end.
    e0.send(5);
    return false;
  });
  void loop.start();
  try {
    e0.send(5);
    // Holds of 1, 2, 4 ... 64 ms: eight runs within about 130 ms, none of them woken by a send.
    const until = performance.now() + 2000;
    while (runs < 9 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
    assert.ok(runs >= 9, `${runs} runs`);
    assert.ok(e3.stats.lateEoiHolds >= 7);
  } finally {
    loop.stop();
    timers.cancelAll();
  }
});
