import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { createBell, ringBell } from "../../src/hv/bell.js";
import {
  createLink,
  EVTCHN_NR_PORTS,
  EventChannels,
  PORT_INTERDOMAIN,
  portWord,
  sideBase,
} from "../../src/hv/evtchn.js";
import { EventLoop } from "../../src/hv/loop.js";
import type { BlockLoopInit, BlockLoopMsg } from "./programs/block-loop.js";

/**
 * Domain 3 in block mode in a worker (programs/block-loop.ts); this thread plays the
 * machine (posting messages and ringing the bell) and Domain-0 (port 5, bound to 3's 9),
 * whose loop runs here in notify mode.
 */
function start() {
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p0)[5] = portWord(PORT_INTERDOMAIN, 3, 9);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  const link = createLink();
  const bell = createBell();
  const ctl = new SharedArrayBuffer(16);
  const worker = new Worker(new URL("./programs/block-loop.js", import.meta.url), {
    workerData: { ports: p3, link, bell, ctl } satisfies BlockLoopInit,
  });
  const exited = new Promise((r) => worker.once("exit", r));
  const side = { w: new Int32Array(link), base: sideBase(3, 0) };
  const bellWords = new Int32Array(bell);
  const e0 = new EventChannels(0, p0);
  e0.addLink(3, link);
  const loop0 = new EventLoop(e0, { mode: "notify" });
  void loop0.start();
  const inbox: { t: string; [k: string]: unknown }[] = [];
  worker.on("message", (m) => inbox.push(m));
  /** The first message matching `t` (waits up to `ms`, then fails naming it). */
  const next = async (t: string, ms = 20_000) => {
    const end = performance.now() + ms;
    for (;;) {
      const i = inbox.findIndex((m) => m.t === t);
      if (i >= 0) return inbox.splice(i, 1)[0];
      if (performance.now() > end) throw new Error(`no "${t}" from the block-mode domain in ${ms} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const post = (m: BlockLoopMsg, bellToo = true) => {
    worker.postMessage(m);
    if (bellToo) ringBell(bellWords, side);
  };
  const ring = () => ringBell(bellWords, side);
  const stop = async () => {
    post({ t: "stop" });
    loop0.stop();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    await worker.terminate();
  };
  return { e0, link, ctl: new Int32Array(ctl), next, post, ring, stop };
}

test("block mode: messages get through while the thread sleeps in Atomics.wait, because the sender rings the bell", async () => {
  const d = start();
  try {
    await d.next("ready");
    // Let it fall asleep (nothing to do, no timer, a one-hour cap).
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 20; i++) {
      d.post({ t: "ping", i });
      const m = await d.next("pong", 5000);
      assert.equal(m.i, i);
    }
  } finally {
    await d.stop();
  }
});

test("block mode: without the bell a message waits (the control: the thread really sleeps)", async () => {
  const d = start();
  try {
    await d.next("ready");
    await new Promise((r) => setTimeout(r, 50));
    d.post({ t: "ping", i: 1 }, false);
    await assert.rejects(d.next("pong", 300));
    d.ring();
    assert.equal((await d.next("pong", 5000)).i, 1);
  } finally {
    await d.stop();
  }
});

test("block mode: a timer fires on time though a sleep may last an hour (the next timer bounds the wait)", async () => {
  const d = start();
  try {
    await d.next("ready");
    for (const ms of [30, 130]) {
      d.post({ t: "timer", ms });
      const m = await d.next("fired", 10_000);
      // Generous for a loaded machine; without the bound it would be an hour late.
      assert.ok((m.lateMs as number) < 2000, `timer ${ms} ms fired ${m.lateMs} ms late`);
    }
  } finally {
    await d.stop();
  }
});

test("block mode: 20 000 event round trips with a notify-mode peer in another thread, none lost", async () => {
  const d = start();
  try {
    await d.next("ready");
    const rounds = 20_000;
    let got = 0;
    const done = new Promise<void>((resolve) => {
      d.e0.on(5, () => {
        if (++got < rounds) d.e0.send(5);
        else resolve();
      });
    });
    d.e0.send(5);
    // A lost wake-up would leave both sleeping: the race fails by timing out.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`stuck after ${got} rounds`)), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.equal(got, rounds);
    assert.equal(Atomics.load(d.ctl, 0), rounds);
  } finally {
    await d.stop();
  }
});

test("block mode: a peer bumping the wake word nonstop costs a bounded number of wake-ups, and messages and events still get through", async () => {
  const d = start();
  try {
    await d.next("ready");
    const stormMs = 600;
    const storm = new Worker(new URL("./programs/wake-storm.js", import.meta.url), {
      workerData: { link: d.link, ms: stormMs },
    });
    const bumps = new Promise<number>((r) => storm.once("message", r));
    await new Promise((r) => setTimeout(r, 100));
    d.post({ t: "ping", i: 7 });
    assert.equal((await d.next("pong", 5000)).i, 7, "a message during the storm");
    const n = await bumps;
    await storm.terminate();
    d.post({ t: "stats" });
    const st = await d.next("stats");
    assert.ok(n > 10_000, `the storm bumped ${n} times`);
    assert.ok((st.sidePauses as number) > 0, "the side was left alone for a while");
    // Pauses of 1, 2, 4... ms after SIDE_EMPTY_THRESHOLD empty wake-ups each: a few hundred at most.
    assert.ok((st.wakeups as number) < 2000, `${st.wakeups} wake-ups for ${n} bumps`);
    // A real event after the storm is handled (the backoff ends).
    let echoed = false;
    d.e0.on(5, () => {
      echoed = true;
    });
    d.e0.send(5);
    const end = performance.now() + 10_000;
    while (!echoed && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
    assert.ok(echoed, "an event after the storm got its echo");
  } finally {
    await d.stop();
  }
});
