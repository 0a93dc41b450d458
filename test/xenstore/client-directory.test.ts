import assert from "node:assert/strict";
import { test } from "node:test";
import { XsClient } from "../../src/xenstore/client.js";
import { Xenstored } from "../../src/xenstore/daemon.js";
import { loopbackTransport } from "../../src/xenstore/transport/loopback.js";

test("a directory too long for one reply is read in DIRECTORY_PART chunks", async () => {
  const d = new Xenstored();
  const c = new XsClient(loopbackTransport(d));
  const names = Array.from({ length: 600 }, (_, i) => `vif-queue-${String(i).padStart(4, "0")}`);
  await c.transaction(async (t) => {
    for (const n of names) await t.write(`/big/${n}`, "");
  });
  const got = await c.directory("/big");
  assert.equal(names.join("\0").length > 4096, true, "the list does not fit one reply");
  assert.deepEqual([...got].sort(), names);
  assert.deepEqual(await c.directory("/local"), ["domain"], "short lists still take one request");
  c.close();
});
