import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import {
  NS_MOREFRAG,
  RING_CUR,
  RING_HEAD,
  RING_TAIL,
  ringSlot,
  SEM_DELIVERED,
  SEM_RELEASED,
  SEM_SLEEPING,
  SEM_WAKE,
} from "../../src/netmap/layout.js";
import type { RemotePortDesc } from "../../src/vale/remote.js";
import { startScribbler, word } from "../netmap/scribble.js";

const SLOTS = 64;

test("a remote VALE user scribbling its shared memory never hangs the switch, writes past a buffer, or stops other ports", async (t) => {
  const ctl = new SharedArrayBuffer(8);
  const c = new Int32Array(ctl);
  const host = new Worker(new URL("./programs/switch-host.js", import.meta.url), {
    workerData: { slots: SLOTS, ctl },
  });
  const crashed = new Promise<never>((_, reject) => host.once("error", reject));
  const messages: unknown[] = [];
  let arrived: (() => void) | null = null;
  host.on("message", (msg) => {
    messages.push(msg);
    arrived?.();
  });
  const next = async (): Promise<unknown> => {
    while (messages.length === 0) await Promise.race([new Promise<void>((r) => (arrived = r)), crashed]);
    return messages.shift();
  };
  try {
    const { desc } = (await next()) as { desc: RemotePortDesc };
    const [mtx, mrx, stx, srx] = desc.pipe.rings;
    const nBufs = desc.spec.nBufs;
    const range = (k: number) => Array.from({ length: k }, (_, i) => i);
    const positions = [...range(SLOTS), SLOTS, SLOTS + 1, 5000, 0x7fffffff, 0xffffffff];
    const slotWord = (r: number, w: number) => range(SLOTS).map((i) => word(ringSlot(r, i)) + w);
    // All this thread has is the description: the memory of the pipe to the switch.
    const evil = await startScribbler(desc.sab, [
      // The slots the switch forwards from: len flipping between a frame and 64 KiB, and
      // the delivered word walking round the ring, so the switch keeps forwarding them.
      { words: slotWord(mrx, 1), values: [60, 65535, 60 | (NS_MOREFRAG << 16), 65535], sweep: true },
      {
        words: [(mrx >>> 2) + SEM_DELIVERED],
        values: [...range(SLOTS), 5000, SLOTS, 0xffffffff],
        sweep: true,
      },
      {
        words: [mtx, mrx, stx, srx].flatMap((r) =>
          [SEM_DELIVERED, SEM_RELEASED, SEM_WAKE, SEM_SLEEPING].map((w) => (r >>> 2) + w),
        ),
        values: positions,
      },
      {
        words: [mtx, mrx, stx, srx].flatMap((r) => [RING_HEAD, RING_CUR, RING_TAIL].map((o) => word(r + o))),
        values: positions,
      },
      { words: slotWord(mrx, 0), values: [0, nBufs, 0xffffffff, ...range(32).map((i) => 2 + i)] },
      {
        words: [...slotWord(mtx, 0), ...slotWord(srx, 0)],
        values: [0, 1, 2, 3, nBufs - 1, nBufs, 0xffffffff, ...range(16).map((i) => 2 + i)],
      },
      { words: [...slotWord(mtx, 1), ...slotWord(stx, 1)], values: [0, 60, 2048, 2049, 65535, 0xffffffff] },
    ]);
    // The switch thread must keep coming back from every pass while this goes on.
    let beat = Atomics.load(c, 1);
    let stalled = 0;
    let maxStall = 0;
    for (let t = 0; t < 1500; t += 50) {
      await Promise.race([sleep(50), crashed]);
      const now = Atomics.load(c, 1);
      stalled = now === beat ? stalled + 50 : 0;
      maxStall = Math.max(maxStall, stalled);
      beat = now;
    }
    const writes = await evil.stop();
    assert.ok(maxStall < 1000, `the switch thread stopped returning (no round for ${maxStall} ms)`);
    Atomics.store(c, 0, 1);
    const r = (await Promise.race([next(), sleep(5000).then(() => ({ timeout: true }))])) as Record<
      string,
      number
    >;
    assert.ok(!("timeout" in r), "the switch thread finished its round and reported");
    assert.ok(writes > 10_000, `the hostile thread wrote (${writes} writes)`);
    assert.equal(r.canaryBroken, 0, "nothing was written outside b's RX buffers");
    assert.equal(r.badLen, 0, "no slot longer than a buffer was delivered");
    t.diagnostic(JSON.stringify({ writes, maxStall, ...r }));
    assert.ok(r.rounds > 50, `the switch thread kept working (${r.rounds} rounds)`);
    assert.ok(r.bGotA > 500, `a -> b kept passing traffic (${r.bGotA} of ${r.aSent})`);
    assert.ok(r.bGotA + r.bDrops >= r.aSent, "a's frames arrived at b or were counted as drops");
    assert.ok(
      r.evilTxPackets + r.evilTxErrors > 0,
      "the switch forwarded (or refused) the hostile port's slots",
    );
    assert.ok(r.evilResets + r.evilPeerErrors > 0, "the hostile writes were seen and counted");
  } finally {
    Atomics.store(c, 0, 1);
    await host.terminate();
  }
});
