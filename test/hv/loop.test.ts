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
import { EventLoop, type LoopMode } from "../../src/hv/loop.js";

/**
 * dom3's loop in this thread, dom0 sending from a worker: three events, the second sent
 * 10 ms after dom3 handled the first, the third once dom3 sleeps.
 */
async function threeEvents(mode: LoopMode) {
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p0)[5] = portWord(PORT_INTERDOMAIN, 3, 9);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  const link = createLink();
  const ctl = new Int32Array(new SharedArrayBuffer(32));
  const e3 = new EventChannels(3, p3);
  e3.addLink(0, link);
  const loop = new EventLoop(e3, { mode, spinUs: 300_000 });
  e3.on(9, () => {
    Atomics.add(ctl, 2, 1);
  });
  void loop.start();
  const w = new Worker(new URL("./programs/evt-sender.js", import.meta.url), {
    workerData: { ports: p0, link, ctl: ctl.buffer },
  });
  const exited = new Promise((r) => w.once("exit", r));
  Atomics.store(ctl, 0, 1);
  for (let i = 0; i < 500 && Atomics.load(ctl, 6) === 0; i++) await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < 500 && Atomics.load(ctl, 2) < 3; i++) await new Promise((r) => setTimeout(r, 10));
  loop.stop();
  await exited;
  return {
    handled: Atomics.load(ctl, 2),
    sleepingAfterFirst: Atomics.load(ctl, 3),
    wakes: [Atomics.load(ctl, 7), Atomics.load(ctl, 4), Atomics.load(ctl, 5)],
    wakeups: loop.wakeups,
  };
}

test("hybrid mode: the loop spins after work, so a send within the window needs no wake-up; then it sleeps", async () => {
  const r = await threeEvents("hybrid");
  assert.equal(r.handled, 3);
  assert.equal(r.sleepingAfterFirst, 0, "still awake (spinning) 10 ms after the first event");
  assert.equal(r.wakes[1] - r.wakes[0], 0, "the second send found the loop awake");
  assert.equal(r.wakes[2] - r.wakes[1], 1, "the third send had to wake it");
  assert.ok(r.wakeups >= 1);
});

test("notify mode (the control): the loop sleeps right after work, so the second send needs a wake-up", async () => {
  const r = await threeEvents("notify");
  assert.equal(r.handled, 3);
  assert.equal(r.sleepingAfterFirst, 1);
  assert.equal(r.wakes[1] - r.wakes[0], 1);
  assert.equal(r.wakes[2] - r.wakes[1], 1);
});

test("a peer that moves the wake word before every wait cannot keep the loop from yielding", async () => {
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  const link = createLink();
  const e3 = new EventChannels(3, p3);
  e3.addLink(0, link);
  const loop = new EventLoop(e3, { mode: "notify" });
  // The peer's bump lands between our read of the wake word and the wait, every time (up to
  // a bound, so a loop that never yields ends too and the test can see it).
  const LIMIT = 200_000;
  const realWait = Atomics.waitAsync;
  let calls = 0;
  Atomics.waitAsync = ((ta: Int32Array, i: number, v: number, t?: number) => {
    if (ta.buffer === link && calls < LIMIT) {
      calls++;
      Atomics.add(ta, i, 1);
    }
    return realWait(ta, i, v, t);
  }) as typeof Atomics.waitAsync;
  let atTimer = -1;
  const timer = new Promise<void>((r) =>
    setTimeout(() => {
      atTimer = calls;
      r();
    }, 0),
  );
  try {
    void loop.start();
    await timer;
  } finally {
    loop.stop();
    Atomics.waitAsync = realWait;
  }
  assert.ok(calls > 0, "the hostile path was taken");
  assert.ok(atTimer < LIMIT, `a timer ran only after ${atTimer} hostile wake-ups`);
});

test("soon: runs once the current code returns, before setImmediate; nested and throwing calls are kept apart", async () => {
  const ev = new EventChannels(1, new SharedArrayBuffer(EVTCHN_NR_PORTS * 4));
  const errors: unknown[] = [];
  const loop = new EventLoop(ev, { onHandlerError: (e) => errors.push(e) });
  const order: string[] = [];
  const immediate = new Promise<void>((r) =>
    setImmediate(() => {
      order.push("immediate");
      r();
    }),
  );
  loop.soon(() => order.push("a"));
  loop.soon(() => {
    throw new Error("boom");
  });
  loop.soon(() => {
    order.push("b");
    loop.soon(() => order.push("nested"));
  });
  order.push("sync");
  await immediate;
  assert.deepEqual(order, ["sync", "a", "b", "nested", "immediate"]);
  assert.equal(errors.length, 1, "the throw went to onHandlerError and the rest still ran");
});

/** dom3's loop in this thread in `mode`, a paced sender in a worker: `count` events `gapUs` apart. */
async function paced(mode: LoopMode, count: number, gapUs: number) {
  const p0 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p0)[5] = portWord(PORT_INTERDOMAIN, 3, 9);
  new Uint32Array(p3)[9] = portWord(PORT_INTERDOMAIN, 0, 5);
  const link = createLink();
  const ctl = new Int32Array(new SharedArrayBuffer(32));
  const e3 = new EventChannels(3, p3);
  e3.addLink(0, link);
  const loop = new EventLoop(e3, { mode });
  e3.on(9, () => {
    Atomics.add(ctl, 2, 1);
  });
  void loop.start();
  const w = new Worker(new URL("./programs/evt-paced.js", import.meta.url), {
    workerData: { ports: p0, link, ctl: ctl.buffer, count, gapUs },
  });
  const exited = new Promise((r) => w.once("exit", r));
  try {
    const end = performance.now() + 60_000;
    while (Atomics.load(ctl, 6) === 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
    while (Atomics.load(ctl, 2) < count && performance.now() < end)
      await new Promise((r) => setTimeout(r, 10));
    return {
      handled: Atomics.load(ctl, 2),
      wakes: Atomics.load(ctl, 4),
      hits: loop.spinHits,
      misses: loop.spinMisses,
    };
  } finally {
    loop.stop();
    await w.terminate();
    await exited;
  }
}

test("adaptive mode: events that come soon after the last are spun for, and spins that run out stop soon", async () => {
  const count = 3000;
  const a = await paced("adaptive", count, 5);
  assert.equal(a.handled, count);
  const n = await paced("notify", count, 5);
  assert.equal(n.handled, count);
  assert.equal(n.hits + n.misses, 0, "notify never spins");
  // Whether a spin finds work depends on a free core for the sender (this machine may have
  // none); what must hold on any machine is that wasted spins stay few.
  assert.ok(a.hits + a.misses > 0, "short gaps were spun for");
  assert.ok(a.misses <= a.hits + count / 10, `${a.misses} spins ran out, ${a.hits} found work`);
  assert.ok(a.wakes <= n.wakes + count / 10, `adaptive: ${a.wakes} wake-ups, notify: ${n.wakes}`);
});

test("adaptive mode: events far apart (5 ms) are not spun for: the loop sleeps and each needs a wake-up", async () => {
  const count = 60;
  const a = await paced("adaptive", count, 5000);
  assert.equal(a.handled, count);
  assert.ok(a.hits + a.misses <= 10, `${a.hits + a.misses} spins for gaps past the window`);
  assert.ok(a.wakes >= count - 10, `${a.wakes} wake-ups for ${count} events`);
});

test("block mode with several links runs as notify, and watches a link added later", async () => {
  const p3 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  const p7 = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
  new Uint32Array(p3)[11] = portWord(PORT_INTERDOMAIN, 7, 2);
  new Uint32Array(p7)[2] = portWord(PORT_INTERDOMAIN, 3, 11);
  const e3 = new EventChannels(3, p3);
  e3.addLink(0, createLink());
  e3.addLink(5, createLink());
  // Block mode would sleep this (the test's) thread: with two links it must not.
  const loop = new EventLoop(e3, { mode: "block" });
  let got = 0;
  e3.on(11, () => {
    got++;
  });
  void loop.start();
  try {
    await new Promise((r) => setTimeout(r, 20));
    const link = createLink();
    loop.watch(e3.addLink(7, link));
    const e7 = new EventChannels(7, p7);
    e7.addLink(3, link);
    await new Promise((r) => setTimeout(r, 20));
    e7.send(2);
    for (let i = 0; i < 500 && got === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got, 1, "the event on the later link was handled");
  } finally {
    loop.stop();
  }
});
