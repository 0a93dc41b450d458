import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SPIN_WINDOW_MIN_US, SpinWindow } from "../../src/hv/spin-window.js";

const MAX = 60;
type Op = { t: "gap"; us: number; bySpin: boolean } | { t: "miss" };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    t: fc.constant("gap" as const),
    us: fc.double({ min: 0, max: 5000, noNaN: true }),
    bySpin: fc.boolean(),
  }),
  fc.constant({ t: "miss" as const }),
);
const apply = (w: SpinWindow, o: Op) => (o.t === "gap" ? w.gap(o.us, o.bySpin) : w.missed());

test("the window is always 0 or between the minimum and the maximum", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const w = new SpinWindow(MAX);
      for (const o of ops) {
        apply(w, o);
        assert.ok(
          w.windowUs === 0 || (w.windowUs >= SPIN_WINDOW_MIN_US && w.windowUs <= MAX),
          `${w.windowUs}`,
        );
      }
    }),
  );
});

test("whatever came before, gaps longer than the maximum close the window (a domain whose peers pause stops spinning)", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const w = new SpinWindow(MAX);
      for (const o of ops) apply(w, o);
      // The longest cool-down (1024 spells) plus a halving per step from the maximum.
      for (let i = 0; i < 1024 + 8; i++) w.gap(MAX + 1, false);
      assert.equal(w.windowUs, 0);
    }),
  );
});

test("gaps just past the window grow it to the maximum; a spin that runs out halves it and holds it a while", () => {
  const w = new SpinWindow(MAX);
  w.gap(5, false);
  assert.equal(w.windowUs, SPIN_WINDOW_MIN_US, "a short gap opens the window");
  for (let i = 0; i < 10; i++) w.gap(MAX, false);
  assert.equal(w.windowUs, MAX);
  w.missed();
  assert.equal(w.windowUs, MAX / 2);
  // Two idle spells of cool-down after a first miss: short gaps then do not grow it.
  w.gap(MAX, false);
  w.gap(MAX, false);
  assert.equal(w.windowUs, MAX / 2);
  w.gap(MAX, false);
  assert.equal(w.windowUs, MAX, "grows again after the cool-down");
  // Misses in a row lengthen the cool-down: 2, then 4 spells.
  w.missed();
  w.gap(1, true); // a hit ends the run of misses
  w.missed();
  assert.equal(w.windowUs, MAX / 4);
  w.missed();
  assert.equal(w.windowUs, 0, "half of 15 µs is under the minimum: closed");
  for (let i = 0; i < 4; i++) w.gap(MAX, false);
  assert.equal(w.windowUs, 0, "held through four spells after a second miss in a row");
  w.gap(MAX, false);
  assert.equal(w.windowUs, SPIN_WINDOW_MIN_US, "then a short gap opens it again");
});
