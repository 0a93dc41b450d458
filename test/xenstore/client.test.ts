import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { PvnetError } from "../../src/base/errors.js";
import { XS_TRANSACTION_END, XS_TRANSACTION_START, XS_WRITE } from "../../src/wire/xen/xs-wire.js";
import { XsClient } from "../../src/xenstore/client.js";
import { XsSocketServer } from "../../src/xenstore/transport/socket.js";
import { defaultXsSocketPath } from "../../src/xenstore/transport/socket-client.js";
import { FakeXenstored } from "./fake-xenstored.js";

const dir = mkdtempSync(join(tmpdir(), "pvnet-xs-client-"));
let daemon: FakeXenstored;
let server: XsSocketServer;
let client: XsClient;

before(async () => {
  daemon = new FakeXenstored();
  server = await XsSocketServer.listen(daemon, join(dir, "xs.sock"), { log: () => {} });
  client = await XsClient.connect(server.path);
});
after(async () => {
  client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function isCode(code: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof PvnetError, String(e));
    assert.equal(e.code, code);
    return true;
  };
}

test("XsClient writes, reads, lists, makes and removes nodes", async () => {
  await client.write("/local/domain/1/name", "guest");
  assert.equal(await client.read("/local/domain/1/name"), "guest");
  await client.mkdir("/local/domain/1/device");
  assert.deepEqual((await client.directory("/local/domain/1")).sort(), ["device", "name"]);
  assert.equal(await client.exists("/local/domain/1/device"), true);
  await client.rm("/local/domain/1");
  assert.equal(await client.exists("/local/domain/1/name"), false);
});

test("XsClient values are binary-safe (NUL bytes and non-UTF-8)", async () => {
  const v = Uint8Array.of(0, 1, 0xff, 0, 0x80);
  await client.write("/bin", v);
  assert.deepEqual(await client.readBytes("/bin"), v);
});

test("XsClient turns XS_ERROR replies into PvnetError with the Xen error name", async () => {
  await assert.rejects(client.read("/nope"), (e) => {
    assert.ok(e instanceof PvnetError);
    assert.equal(e.code, "ENOENT");
    assert.equal(e.message, "xenstore XS_READ /nope: ENOENT");
    return true;
  });
});

test("XsClient refuses a request over the payload limit with E2BIG and stays usable", async () => {
  await assert.rejects(client.write("/huge", new Uint8Array(5000)), isCode("E2BIG"));
  await client.write("/max", new Uint8Array(4096 - "/max".length - 1));
  assert.equal((await client.readBytes("/max")).length, 4091);
});

test("XsClient gets and sets permissions", async () => {
  await client.write("/p", "");
  await client.setPerms("/p", [
    { letter: "n", domid: 1 },
    { letter: "r", domid: 2 },
  ]);
  assert.deepEqual(await client.getPerms("/p"), [
    { letter: "n", domid: 1 },
    { letter: "r", domid: 2 },
  ]);
});

test("XsClient watch yields the initial event, then every change, and break unwatches", async () => {
  const w = await client.watch("/w", "tok");
  const seen: string[] = [];
  const done = (async () => {
    for await (const ev of w) {
      assert.equal(ev.token, "tok");
      seen.push(ev.path);
      if (seen.length === 3) break;
    }
  })();
  await client.write("/w/a", "1");
  await client.write("/other", "x");
  await client.write("/w", "2");
  await done;
  assert.deepEqual(seen, ["/w", "/w/a", "/w"]);
  assert.equal(w.ended, true);
  // The daemon no longer knows the token: a second UNWATCH fails.
  await assert.rejects(client.unwatch("/w", "tok"), isCode("ENOENT"));
});

test("XsClient routes events to several watches by token", async () => {
  const a = await client.watch("/ra");
  const b = await client.watch("/rb");
  await client.write("/rb/x", "1");
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  assert.equal((await ia.next()).value?.path, "/ra");
  assert.equal((await ib.next()).value?.path, "/rb");
  assert.equal((await ib.next()).value?.path, "/rb/x");
  await a.close();
  await b.close();
  assert.equal((await ia.next()).done, true);
});

test("XsClient.transaction retries the whole function on EAGAIN", async () => {
  daemon.failCommits = 2;
  let runs = 0;
  const r = await client.transaction(async (tx) => {
    runs++;
    await tx.write("/tx/a", String(runs));
    return runs;
  });
  assert.equal(r, 3);
  assert.equal(runs, 3);
  const writes = daemon.seen.filter(([type]) => type === XS_WRITE).slice(-1);
  assert.ok(writes[0]![1] > 0, "the write carried the transaction id");
});

test("XsClient.transaction aborts when the function throws and gives up after maxAttempts", async () => {
  const before = daemon.seen.length;
  await assert.rejects(
    client.transaction(async () => {
      throw new PvnetError("EINVAL", "no");
    }),
    isCode("EINVAL"),
  );
  const types = daemon.seen.slice(before).map(([t]) => t);
  assert.deepEqual(types, [XS_TRANSACTION_START, XS_TRANSACTION_END]);
  daemon.failCommits = 5;
  await assert.rejects(
    client.transaction(async () => 0, { maxAttempts: 2 }),
    isCode("EAGAIN"),
  );
  daemon.failCommits = 0;
});

test("XsClient domain requests: path, introduce, release", async () => {
  assert.equal(await client.getDomainPath(7), "/local/domain/7");
  assert.equal(await client.isDomainIntroduced(7), false);
  await client.introduce(7, 0x1234, 3);
  assert.equal(await client.isDomainIntroduced(7), true);
  await client.release(7);
  assert.equal(await client.isDomainIntroduced(7), false);
});

test("XsClient keeps concurrent requests apart by req_id", async () => {
  const keys = Array.from({ length: 50 }, (_, i) => `/c/${i}`);
  await Promise.all(keys.map((k) => client.write(k, k)));
  assert.deepEqual(await Promise.all(keys.map((k) => client.read(k))), keys);
});

test("XsClient fails pending requests with EIO and ends watches when the daemon goes away", async () => {
  const srv = await XsSocketServer.listen(new FakeXenstored(), join(dir, "b.sock"), { log: () => {} });
  const c = await XsClient.connect(srv.path);
  const w = await c.watch("/x");
  await srv.close();
  const evs = [];
  for await (const ev of w) evs.push(ev);
  assert.equal(evs.length, 1, "only the initial event arrived");
  assert.equal(c.closed, true);
  await assert.rejects(c.read("/x"), isCode("EIO"));
});

test("XsClient.connect to a missing socket is EIO", async () => {
  await assert.rejects(XsClient.connect(join(dir, "missing.sock")), isCode("EIO"));
});

test("defaultXsSocketPath follows libxenstore: XENSTORED_PATH, then XENSTORED_RUNDIR/socket", () => {
  assert.equal(defaultXsSocketPath({ XENSTORED_PATH: "/x.sock", XENSTORED_RUNDIR: "/r" }), "/x.sock");
  assert.equal(defaultXsSocketPath({ XENSTORED_RUNDIR: "/r" }), "/r/socket");
  assert.equal(defaultXsSocketPath({}), "/var/run/xenstored/socket");
});
