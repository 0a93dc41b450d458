import assert from "node:assert/strict";
import { test } from "node:test";
import { measurePipe } from "../../bench/netmap.js";

// Speed is bench netmap's job; on a loaded machine two spinning threads can be starved for a
// whole window, so this only checks that the bench's pipe moves frames, in order.
test("the bench's netmap pipe between two threads delivers in order (short run)", async () => {
  // measurePipe throws if any packet arrives out of sequence.
  const mpps = await measurePipe(64, 32, 50, 1000);
  assert.ok(mpps > 0, "the pipe moved no frame in a second");
});
