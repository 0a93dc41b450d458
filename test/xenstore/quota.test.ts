import assert from "node:assert/strict";
import { test } from "node:test";
import { XS_TRANSACTION_START } from "../../src/wire/xen/xs-wire.js";
import { makeGuestHome, newDaemon, TestClient } from "./harness.js";

test("node quota: a guest may own only so many nodes (ENOSPC), dom0 is unlimited", () => {
  const { d } = newDaemon({ quotas: { nodes: 5 } });
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1); // the home counts for domain 1
  const g = new TestClient(d, 1);
  for (let i = 0; i < 4; i++) assert.equal(g.write(`k${i}`, "v"), "OK");
  assert.equal(g.write("k4", "v"), "ENOSPC");
  assert.equal(g.write("k0", "changed"), "OK", "changing a node needs no new one");
  assert.equal(g.write("deep/a/b", "v"), "ENOSPC", "creating parents counts too");
  assert.equal(g.rm("k0"), "OK");
  assert.equal(g.write("k4", "v"), "OK", "removal gives quota back");
  for (let i = 0; i < 10; i++) assert.equal(dom0.write(`/dom0/${i}`, "v"), "OK");
});

test("node size quota: value, child names and perms count (ENOSPC)", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1);
  const g = new TestClient(d, 1);
  assert.equal(g.write("big", "x".repeat(2000)), "OK");
  assert.equal(g.write("big", "x".repeat(2048)), "ENOSPC");
  assert.equal(dom0.write("/local/domain/1/dom0big", "x".repeat(4000)), "OK");
});

test("path length quota applies below the guest's home (EINVAL)", () => {
  const { d } = newDaemon({ quotas: { pathLength: 20 } });
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1);
  const g = new TestClient(d, 1);
  assert.equal(g.write("a".repeat(20), "v"), "OK");
  assert.equal(g.write("a".repeat(21), "v"), "EINVAL");
  assert.equal(dom0.write(`/local/domain/1/${"b".repeat(100)}`, "v"), "OK");
});

test("perms per node quota (ENOSPC)", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1);
  const g = new TestClient(d, 1);
  g.write("k", "v");
  assert.equal(g.setPerms("k", ["n1", "r2", "r3", "r4", "r5"]), "OK");
  assert.equal(g.setPerms("k", ["n1", "r2", "r3", "r4", "r5", "r6"]), "ENOSPC");
});

test("watch quota answers E2BIG (4.17)", () => {
  const { d } = newDaemon({ quotas: { watches: 3 } });
  const g = new TestClient(d, 1);
  for (let i = 0; i < 3; i++) assert.equal(g.watch(`w${i}`, "t"), "OK");
  assert.equal(g.watch("w3", "t"), "E2BIG");
  assert.equal(g.watch("w0", "t"), "EEXIST", "duplicates are reported first");
  const dom0 = new TestClient(d, 0);
  for (let i = 0; i < 10; i++) assert.equal(dom0.watch(`w${i}`, "t"), "OK");
});

test("transaction quota per connection (ENOSPC)", () => {
  const { d } = newDaemon({ quotas: { transactions: 2 } });
  const g = new TestClient(d, 1);
  const t1 = g.txStart();
  g.txStart();
  assert.equal(g.strings(XS_TRANSACTION_START, [""]), "ENOSPC");
  g.txEnd(t1, false);
  assert.ok(g.txStart() > 0);
  const g2 = new TestClient(d, 1);
  assert.ok(g2.txStart() > 0, "per connection");
});

test("nodes per transaction quota (ENOSPC)", () => {
  const { d } = newDaemon({ quotas: { nodesPerTransaction: 4 } });
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1);
  const g = new TestClient(d, 1);
  const tx = g.txStart();
  assert.equal(g.write("a", "1", tx), "OK");
  assert.equal(g.write("b", "1", tx), "OK");
  assert.equal(g.write("c", "1", tx), "ENOSPC");
  assert.equal(g.txEnd(tx, true), "OK");
});
