import assert from "node:assert/strict";
import { test } from "node:test";
import { settle, warmUp } from "../../bench/wait.js";

test("warmUp waits out a slow start by frames, not by a fixed time, and gives up at its cap", async () => {
  // A counter like a vif's: a trickle for 300 ms, then fast.
  const t0 = performance.now();
  const rate = (): number => (performance.now() - t0 < 300 ? 10 : 10_000);
  let n = 0;
  const tick = setInterval(() => {
    n += rate();
  }, 5);
  try {
    const ms = await warmUp(() => [n], 20_000, 50, 3000);
    assert.ok(ms >= 290, `the window opened at ${Math.round(ms)} ms, inside the trickle`);
    assert.ok(ms < 2000, `waited ${Math.round(ms)} ms`);
    assert.ok(n >= 20_000);
    // Every counter must be past the mark, and at least minMs must pass.
    const base = n;
    const m2 = await warmUp(() => [n, 0], 1, 0, 200);
    assert.ok(m2 >= 190, "a counter that never moves holds the warm-up to its cap");
    const m3 = await warmUp(() => [n], 1, 150, 1000);
    assert.ok(m3 >= 150 && n > base, `minMs: ${Math.round(m3)}`);
  } finally {
    clearInterval(tick);
  }
});

test("settle waits while the rate still rises, stops once it does not, and gives up at its cap", async () => {
  // A counter whose rate doubles every 100 ms for 400 ms, then holds.
  const t0 = performance.now();
  let n = 0;
  const tick = setInterval(() => {
    const ms = performance.now() - t0;
    n += 2 ** Math.min(4, Math.floor(ms / 100));
  }, 2);
  try {
    const ms = await settle(() => n, 100, 0.05, 5000);
    assert.ok(ms >= 400, `settled at ${Math.round(ms)} ms, while the rate was still doubling`);
    assert.ok(ms < 3000, `waited ${Math.round(ms)} ms for a rate that held from 400 ms`);
    // A rate that keeps rising is cut off at maxMs.
    let m = 0;
    let step = 1;
    const rising = setInterval(() => {
      step *= 1.2;
      m += step;
    }, 10);
    try {
      const capped = await settle(() => m, 50, 0.05, 300);
      assert.ok(capped >= 300 && capped < 600, `a rising rate held the wait for ${Math.round(capped)} ms`);
    } finally {
      clearInterval(rising);
    }
  } finally {
    clearInterval(tick);
  }
});

test("settle also waits for a busy count to stop moving", async () => {
  let n = 0;
  let gcs = 0;
  const t0 = performance.now();
  const tick = setInterval(() => {
    n += 100;
    if (performance.now() - t0 < 350) gcs++;
  }, 5);
  try {
    const ms = await settle(
      () => n,
      100,
      0.05,
      3000,
      () => gcs,
    );
    assert.ok(ms >= 400, `settled at ${Math.round(ms)} ms while the count still moved until 350`);
    assert.ok(ms < 2000, `waited ${Math.round(ms)} ms`);
  } finally {
    clearInterval(tick);
  }
});
