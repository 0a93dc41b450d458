import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { FakeClock } from "../../src/base/clock.js";
import { Counters } from "../../src/base/counters.js";
import { isWireError, PvnetError, toWireError } from "../../src/base/errors.js";
import { RateLog } from "../../src/base/ratelog.js";
import { ManualTimers } from "../../src/hv/timer.js";

test("a PvnetError survives a worker boundary as plain data and is rebuilt with its code", async () => {
  const e = new PvnetError("ENOENT", "Cannot read /local/domain/9: no such node", {
    path: "/local/domain/9",
  });
  const w = new Worker(
    "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));",
    {
      eval: true,
    },
  );
  const back = await new Promise((resolve) => {
    w.once("message", resolve);
    w.postMessage(e.toWire());
  });
  await w.terminate();
  assert.ok(isWireError(back));
  const r = PvnetError.fromWire(back);
  assert.ok(r instanceof PvnetError);
  assert.equal(r.code, "ENOENT");
  assert.equal(r.message, e.message);
  assert.deepEqual(r.detail, { path: "/local/domain/9" });
  assert.equal(toWireError(new TypeError("x")).code, "EBUG", "a plain error is marked as a bug");
});

test("counters live in shared memory and read the same from a view of the buffer", () => {
  const c = new Counters(["a", "b"] as const);
  c.add("a", 3);
  c.f64[c.slot("b")] += 2;
  const other = new Counters(["a", "b"] as const, c.buffer);
  assert.deepEqual(other.snapshot(), { a: 3, b: 2 });
  assert.throws(() => c.slot("c" as "a"), /Unknown counter/);
});

test("the rate-limited log lets a burst through per window and reports what it swallowed", () => {
  const clock = new FakeClock();
  const lines: string[] = [];
  const log = new RateLog({ sink: (l) => lines.push(l), clock, burst: 2, windowMs: 1000 });
  for (let i = 0; i < 5; i++) log.log("vif1", `bad ${i}`);
  assert.deepEqual(lines, ["bad 0", "bad 1"]);
  assert.equal(log.log("vif2", "other key"), true);
  clock.advance(1000);
  log.log("vif1", "bad 5");
  assert.equal(lines.at(-1), "bad 5 (3 similar lines suppressed)");
});

test("manual timers fire in time order, repeat, and cancel", () => {
  const t = new ManualTimers();
  const seen: string[] = [];
  t.after(30, () => seen.push(`a@${t.now}`));
  const p = t.every(20, () => seen.push(`p@${t.now}`));
  t.after(10, () => seen.push(`b@${t.now}`));
  t.advance(45);
  assert.deepEqual(seen, ["b@10", "p@20", "a@30", "p@40"]);
  t.cancel(p);
  t.advance(100);
  assert.equal(seen.length, 4);
  assert.equal(t.active, 0);
});
