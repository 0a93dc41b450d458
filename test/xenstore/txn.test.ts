import assert from "node:assert/strict";
import { test } from "node:test";
import { newDaemon, TestClient } from "./harness.js";

test("transaction ids are decimal u32s starting at 1; writes stay private until commit", () => {
  const { d } = newDaemon();
  const a = new TestClient(d, 0);
  const b = new TestClient(d, 0);
  b.watch("/t", "w");
  b.events();
  const tx = a.txStart();
  assert.equal(tx, 1);
  assert.equal(a.write("/t/x", "1", tx), "OK");
  assert.equal(a.read("/t/x", tx), "=1");
  assert.deepEqual(a.dir("/t", tx), ["x"]);
  assert.equal(b.read("/t/x"), "ENOENT", "not visible outside");
  assert.deepEqual(b.events(), [], "watches wait for the commit");
  assert.equal(a.txEnd(tx, true), "OK");
  assert.equal(b.read("/t/x"), "=1");
  assert.deepEqual(b.events(), ["/t/x w"]);
});

test("abort discards everything", () => {
  const { d } = newDaemon();
  const a = new TestClient(d, 0);
  a.write("/k", "old");
  const tx = a.txStart();
  a.write("/k", "new", tx);
  a.rm("/local", tx);
  assert.equal(a.read("/local/domain/0/name", tx), "ENOENT");
  assert.equal(a.txEnd(tx, false), "OK");
  assert.equal(a.read("/k"), "=old");
  assert.equal(a.read("/local/domain/0/name"), "=Domain-0");
});

test("commit is EAGAIN when a node the transaction read changed meanwhile", () => {
  const { d } = newDaemon();
  const a = new TestClient(d, 0);
  const b = new TestClient(d, 0);
  a.write("/k", "1");
  const tx = a.txStart();
  assert.equal(a.read("/k", tx), "=1");
  a.write("/other", "x", tx);
  b.write("/k", "2");
  assert.equal(a.read("/k", tx), "=1", "the transaction keeps what it saw");
  assert.equal(a.txEnd(tx, true), "EAGAIN");
  assert.equal(a.read("/other"), "ENOENT", "nothing applied");
  assert.equal(a.txEnd(tx, true), "ENOENT", "the transaction is gone");
});

test("commit is EAGAIN when a node the transaction found absent appeared", () => {
  const { d } = newDaemon();
  const a = new TestClient(d, 0);
  const b = new TestClient(d, 0);
  const tx = a.txStart();
  assert.equal(a.read("/n", tx), "ENOENT");
  b.write("/n", "1");
  assert.equal(a.txEnd(tx, true), "EAGAIN");
});

test("commit succeeds when only untouched nodes changed", () => {
  const { d } = newDaemon();
  const a = new TestClient(d, 0);
  const b = new TestClient(d, 0);
  a.write("/p/k", "1");
  a.write("/q/k", "1");
  const tx = a.txStart();
  a.write("/p/k", "2", tx);
  b.write("/q/k", "3");
  assert.equal(a.txEnd(tx, true), "OK");
  assert.equal(a.read("/p/k"), "=2");
  assert.equal(a.read("/q/k"), "=3");
});

test("two transactions writing the same node: the second commit conflicts", () => {
  const { d } = newDaemon();
  const a = new TestClient(d, 0);
  const b = new TestClient(d, 0);
  a.write("/s", "0");
  const t1 = a.txStart();
  const t2 = b.txStart();
  a.write("/s", "a", t1);
  b.write("/s", "b", t2);
  assert.equal(a.txEnd(t1, true), "OK");
  assert.equal(b.txEnd(t2, true), "EAGAIN");
  assert.equal(a.read("/s"), "=a");
});

test("a connection's transactions are its own; close drops them", () => {
  const { d } = newDaemon();
  const a = new TestClient(d, 0);
  const b = new TestClient(d, 0);
  const tx = a.txStart();
  assert.equal(b.read("/", tx), "ENOENT", "another connection cannot use the id");
  a.conn.close();
  const c = new TestClient(d, 0);
  assert.equal(c.txStart(), 1);
});

test("rm of a subtree inside a transaction applies at commit and fires once", () => {
  const { d } = newDaemon();
  const a = new TestClient(d, 0);
  a.write("/r/a/b", "1");
  a.write("/r/c", "1");
  a.watch("/r/a/b", "deep");
  a.events();
  const tx = a.txStart();
  assert.equal(a.rm("/r/a", tx), "OK");
  assert.equal(a.read("/r/a/b", tx), "ENOENT");
  assert.deepEqual(a.dir("/r", tx), ["c"]);
  assert.deepEqual(a.events(), []);
  assert.equal(a.txEnd(tx, true), "OK");
  assert.deepEqual(a.events(), ["/r/a/b deep"]);
  assert.deepEqual(a.dir("/r"), ["c"]);
});

test("RM in a transaction of a node whose parent was removed meanwhile answers EINVAL, then EAGAIN", () => {
  const { d } = newDaemon();
  const c0 = new TestClient(d, 0);
  c0.mkdir("/local/domain/1");
  c0.write("/local/domain/1/c", "");
  const tx = c0.txStart();
  assert.equal(c0.read("/local/domain/1/c", tx), "=");
  assert.equal(c0.rm("/local/domain/1"), "OK");
  assert.equal(c0.rm("/local/domain/1/c", tx), "EINVAL");
  assert.equal(c0.txEnd(tx, true), "EAGAIN");
  assert.equal(c0.read("/local/domain/1"), "ENOENT");
});
