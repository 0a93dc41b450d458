import assert from "node:assert/strict";
import { test } from "node:test";
import { measurePipe } from "../../bench/netmap.js";

test("a netmap pipe between two threads delivers in order at speed (short run)", async () => {
  // measurePipe throws if any packet arrives out of sequence.
  const mpps = await measurePipe(64, 32, 50, 200);
  assert.ok(mpps > 1, `pipe moved only ${mpps} Mpps`);
});
