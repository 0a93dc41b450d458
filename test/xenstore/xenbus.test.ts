import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { PvnetError } from "../../src/base/errors.js";
import { XsClient } from "../../src/xenstore/client.js";
import { Xenstored } from "../../src/xenstore/daemon.js";
import { XsSocketServer } from "../../src/xenstore/transport/socket.js";
import { sanitiseValue, unsanitiseValue } from "../../src/xenstore/value-text.js";
import {
  parseXenbusState,
  readFeature,
  readState,
  switchState,
  waitForState,
  XenbusState,
  xenbusStateName,
} from "../../src/xenstore/xenbus.js";

const dir = mkdtempSync(join(tmpdir(), "pvnet-xenbus-"));
let server: XsSocketServer;
let front: XsClient;
let back: XsClient;
const FE = "/local/domain/1/device/vif/0";
const BE = "/local/domain/0/backend/vif/1/0";

before(async () => {
  server = await XsSocketServer.listen(new Xenstored(), join(dir, "xs.sock"), { log: () => {} });
  front = await XsClient.connect(server.path);
  back = await XsClient.connect(server.path);
});
after(async () => {
  front.close();
  back.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test("XenbusState has Xen's numbers and names", () => {
  assert.equal(XenbusState.Connected, 4);
  assert.equal(XenbusState.Reconfigured, 8);
  assert.deepEqual(
    Array.from({ length: 9 }, (_, i) => xenbusStateName(i)),
    [
      "Unknown",
      "Initialising",
      "InitWait",
      "Initialised",
      "Connected",
      "Closing",
      "Closed",
      "Reconfiguring",
      "Reconfigured",
    ],
  );
  assert.equal(xenbusStateName(9), "Invalid(9)");
});

test("parseXenbusState reads garbage, empty and out-of-range values as Unknown", () => {
  assert.equal(parseXenbusState("4"), XenbusState.Connected);
  for (const s of [undefined, "", "9", "-1", "4 ", "0x4", "four", "1234"]) {
    assert.equal(parseXenbusState(s), XenbusState.Unknown, String(s));
  }
});

test("switchState writes only when the state changes and never resurrects a removed node", async () => {
  await back.write(`${FE}/state`, "1");
  assert.equal(await switchState(front, FE, XenbusState.InitWait), true);
  assert.equal(await front.read(`${FE}/state`), "2");
  assert.equal(await switchState(front, FE, XenbusState.InitWait), false, "same state: no write");
  assert.equal(await switchState(front, "/local/domain/1/device/vif/9", XenbusState.Closed), false);
  assert.equal(await front.exists("/local/domain/1/device/vif/9/state"), false);
  assert.equal(await readState(front, FE), XenbusState.InitWait);
  assert.equal(await readState(front, "/local/domain/1/device/vif/9"), XenbusState.Unknown);
});

test("a transaction against Xenstored is retried when a concurrent write makes its commit fail with EAGAIN", async () => {
  await back.write(`${BE}/state`, "1");
  let interfered = false;
  const written = await front.transaction(async (tx) => {
    const cur = await tx.read(`${BE}/state`);
    if (!interfered) {
      interfered = true;
      await back.write(`${BE}/state`, "2"); // outside the transaction: the commit must fail
    }
    await tx.write(`${BE}/state`, String(Number(cur) + 2));
    return cur;
  });
  assert.equal(written, "2", "the retry read the concurrent write");
  assert.equal(await back.read(`${BE}/state`), "4");
  assert.equal(await switchState(back, BE, XenbusState.Connected), false);
});

test("waitForState sees the current state at once and later changes from the other end", async () => {
  await back.write(`${BE}/state`, "2");
  assert.equal(
    await waitForState(front, `${BE}/state`, (s) => s === XenbusState.InitWait),
    XenbusState.InitWait,
  );
  const waiting = waitForState(front, `${BE}/state`, (s) => s >= XenbusState.Connected, { timeoutMs: 2000 });
  setTimeout(() => void switchState(back, BE, XenbusState.Connected), 10);
  assert.equal(await waiting, XenbusState.Connected);
});

test("waitForState rejects with ETIMEDOUT and removes its watch", async () => {
  await assert.rejects(
    waitForState(front, `${BE}/state`, (s) => s === XenbusState.Closed, { timeoutMs: 30 }),
    (e) => e instanceof PvnetError && e.code === "ETIMEDOUT",
  );
});

test("readFeature parses decimal values and falls back to the default", async () => {
  await back.write(`${BE}/feature-sg`, "1");
  await back.write(`${BE}/feature-gso-tcpv4`, "0");
  await back.write(`${BE}/multi-queue-max-queues`, "8");
  await back.write(`${BE}/feature-bad`, "yes");
  assert.equal(await readFeature(front, BE, "feature-sg", 0), 1);
  assert.equal(await readFeature(front, BE, "feature-gso-tcpv4", 1), 0);
  assert.equal(await readFeature(front, BE, "multi-queue-max-queues", 1), 8);
  assert.equal(await readFeature(front, BE, "feature-bad", 0), 0);
  assert.equal(await readFeature(front, BE, "feature-absent", 1), 1);
});

test("unsanitiseValue inverts sanitiseValue for any bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      assert.deepEqual(unsanitiseValue(sanitiseValue(b)), b);
    }),
  );
});
