import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import {
  createLink,
  EVTCHN_NR_PORTS,
  EventChannels,
  PORT_INTERDOMAIN,
  portWord,
} from "../../src/hv/evtchn.js";
import { EventLoop } from "../../src/hv/loop.js";
import { NodeTimers } from "../../src/hv/timer.js";

const STORM_MS = 1000;

/**
 * dom3's loop in this thread: port 9 bound to dom0's port 5 (the storming peer, a worker)
 * and port 10 bound to dom4's port 6 (an honest peer in this thread, sending every 2 ms).
 * Port 9's handler finds no work; port 10's always does.
 */
async function storm(mode: "send" | "forge") {
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p4 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p0)[5] = portWord(PORT_INTERDOMAIN, 3, 9);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  new Uint32Array(p3)[10] = portWord(PORT_INTERDOMAIN, 4, 6);
  new Uint32Array(p4)[6] = portWord(PORT_INTERDOMAIN, 3, 10);
  const link0 = createLink();
  const link4 = createLink();
  const timers = new NodeTimers();
  const e3 = new EventChannels(3, p3, { timers });
  e3.addLink(0, link0);
  e3.addLink(4, link4);
  const e4 = new EventChannels(4, p4);
  e4.addLink(3, link4);
  const loop = new EventLoop(e3, { mode: "notify" });
  let stormRuns = 0;
  let honestRuns = 0;
  e3.on(9, () => {
    stormRuns++;
    return false;
  });
  e3.on(10, () => {
    honestRuns++;
  });
  void loop.start();
  const ctl = new Int32Array(new SharedArrayBuffer(16));
  const w = new Worker(new URL("./programs/evt-storm.js", import.meta.url), {
    workerData: { ports: p0, link: link0, ctl: ctl.buffer, mode, ms: STORM_MS },
  });
  const exited = new Promise((r) => w.once("exit", r));
  let honestSent = 0;
  const honest = setInterval(() => {
    e4.send(6);
    honestSent++;
  }, 2);
  Atomics.store(ctl, 0, 1);
  const t0 = performance.now();
  while (Atomics.load(ctl, 1) === 0 && performance.now() - t0 < 10_000)
    await new Promise((r) => setTimeout(r, 10));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(honest);
  await new Promise((r) => setTimeout(r, 20));
  loop.stop();
  timers.cancelAll();
  await exited;
  return {
    fired: Atomics.load(ctl, 2),
    stormRunsPerSec: stormRuns / seconds,
    emptyPassesPerSec: e3.stats.emptyPasses / seconds,
    honestSent,
    honestRuns,
    spurious: e3.stats.spurious,
    sidePauses: loop.sidePauses,
  };
}

test("a peer firing a channel with no work behind it: the handler runs a bounded number of times a second", async (t) => {
  const r = await storm("send");
  t.diagnostic(JSON.stringify(r));
  assert.ok(r.fired > 100_000, `the storm fired ${r.fired} times`);
  assert.ok(r.stormRunsPerSec < 2000, `the handler ran ${r.stormRunsPerSec.toFixed(0)} times a second`);
  assert.ok(r.spurious > 0);
  // Coalescing lets a few sends share one run; most of the honest peer's get through.
  assert.ok(r.honestRuns >= r.honestSent * 0.5, `honest events handled ${r.honestRuns} of ${r.honestSent}`);
});

test("a peer setting every pending and selector bit and the wake word: passes bounded, the other link served", async (t) => {
  const r = await storm("forge");
  t.diagnostic(JSON.stringify(r));
  assert.ok(r.fired > 10_000, `the storm fired ${r.fired} times`);
  // Each pass scans the whole side (4096 bits): unbacked, a storm costs thousands a second.
  assert.ok(r.emptyPassesPerSec < 300, `${r.emptyPassesPerSec.toFixed(0)} empty passes a second`);
  assert.ok(r.stormRunsPerSec < 2000, `the handler ran ${r.stormRunsPerSec.toFixed(0)} times a second`);
  assert.ok(r.sidePauses > 0);
  assert.ok(r.honestRuns >= r.honestSent * 0.5, `honest events handled ${r.honestRuns} of ${r.honestSent}`);
});
