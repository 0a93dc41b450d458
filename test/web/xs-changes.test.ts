import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  parseXsChanges,
  XS_CHANGES_BATCH_MAX,
  XsChangeFeed,
  type XsChangesReport,
} from "../../src/web/xs-changes.js";
import { XsClient } from "../../src/xenstore/client.js";
import { Xenstored } from "../../src/xenstore/daemon.js";
import { loopbackTransport } from "../../src/xenstore/transport/loopback.js";

test("the feed reports each change with its value, perms and writer; a commit's write and perms once", async () => {
  const reports: XsChangesReport[] = [];
  const feed = new XsChangeFeed((r) => reports.push(r));
  const d = new Xenstored({ onChange: feed.onChange });
  feed.attach(d.tree);
  const xs = new XsClient(loopbackTransport(d));
  await xs.write("/local/domain/0/a", "one");
  await xs.write("/local/domain/0/a", "two");
  await xs.rm("/local/domain/0/a");
  await xs.transaction(async (tx) => {
    await tx.write("/local/domain/0/b", "x");
    await tx.setPerms("/local/domain/0/b", [
      { letter: "n", domid: 0 },
      { letter: "r", domid: 1 },
    ]);
  });
  await new Promise((r) => setImmediate(r));
  const all = reports.flatMap((r) => r.entries.map((e) => [e.domid, e.path, e.value, e.perms]));
  assert.deepEqual(all, [
    [0, "/local/domain/0/a", "one", ["n0"]],
    [0, "/local/domain/0/a", "two", ["n0"]],
    [0, "/local/domain/0/a", null, ["n0"]],
    [0, "/local/domain/0/b", "x", ["n0", "r1"]],
  ]);
  for (const r of reports) assert.ok(parseXsChanges(r) !== null);
  xs.close();
});

test("refused writes and aborted transactions change nothing, so nothing is reported", async () => {
  const reports: XsChangesReport[] = [];
  const feed = new XsChangeFeed((r) => reports.push(r));
  const d = new Xenstored({ onChange: feed.onChange });
  feed.attach(d.tree);
  const guest = new XsClient(loopbackTransport(d, { domid: 1, privileged: false }));
  await assert.rejects(guest.write("/local/domain/0/x", "no"), { code: "EACCES" });
  const dom0 = new XsClient(loopbackTransport(d));
  const tx = await dom0.transactionStart();
  await tx.write("/local/domain/0/y", "never");
  await dom0.transactionEnd(tx, false);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(reports, []);
  guest.close();
  dom0.close();
});

test("parseXsChanges takes only well-formed reports", () => {
  fc.assert(
    fc.property(fc.anything(), (junk) => {
      const r = parseXsChanges(junk);
      assert.ok(r === null || (Array.isArray(r.entries) && r.entries.length <= XS_CHANGES_BATCH_MAX));
    }),
  );
  const good = {
    t: "xs-changes",
    entries: [{ at: 1, domid: 1, path: "/x", value: "v", perms: ["n1"] }],
    dropped: 0,
  };
  assert.deepEqual(parseXsChanges(good)?.entries.length, 1);
  assert.equal(parseXsChanges({ ...good, entries: [{ ...good.entries[0], perms: [7] }] }), null);
  assert.equal(parseXsChanges({ ...good, entries: [{ ...good.entries[0], path: 3 }] }), null);
  assert.equal(parseXsChanges({ ...good, t: "log" }), null);
});
