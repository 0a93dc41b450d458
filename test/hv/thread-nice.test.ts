import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { getPriority } from "node:os";
import { test } from "node:test";
import { Worker } from "node:worker_threads";

test("niceThisThread sets the calling thread's nice value and no other thread's", async (t) => {
  if (!existsSync("/proc/thread-self")) return t.skip("no /proc/thread-self: per-thread nice is Linux's");
  const before = getPriority(process.pid);
  const url = new URL("../../src/hv/thread-nice.js", import.meta.url).href;
  const src = `
    const { parentPort } = require("node:worker_threads");
    const { readlinkSync } = require("node:fs");
    const { getPriority } = require("node:os");
    import(${JSON.stringify(url)}).then(({ niceThisThread }) => {
      const ok = niceThisThread(7);
      const link = readlinkSync("/proc/thread-self");
      const tid = Number(link.slice(link.lastIndexOf("/") + 1));
      parentPort.postMessage({ ok, tid, nice: getPriority(tid) });
    });`;
  const w = new Worker(src, { eval: true });
  try {
    const r = await new Promise<{ ok: boolean; tid: number; nice: number }>((res, rej) => {
      w.once("message", res);
      w.once("error", rej);
    });
    assert.equal(r.ok, true);
    assert.notEqual(r.tid, process.pid);
    assert.equal(r.nice, 7);
    assert.equal(getPriority(process.pid), before, "the main thread keeps its nice value");
  } finally {
    await w.terminate();
  }
});
