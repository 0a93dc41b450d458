import assert from "node:assert/strict";
import { test } from "node:test";
import {
  joinXsStrings,
  XS_CONTROL,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_QUOTA,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RESUME,
  XS_SET_TARGET,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
} from "../../src/wire/xen/xs-wire.js";
import { makeGuestHome, newDaemon, str, TestClient } from "./harness.js";

test("the initial tree is what a Xen host shows after boot", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  assert.deepEqual(c.dir("/"), ["tool", "local", "vm"]);
  assert.deepEqual(c.dir("/local/domain"), ["0"]);
  assert.equal(c.read("/local/domain/0/name"), "=Domain-0");
  assert.equal(c.read("/local/domain/0/domid"), "=0");
  assert.equal(c.read("name"), "=Domain-0", "relative to /local/domain/0");
  assert.equal(c.getPerms("/"), "n0");
});

test("READ returns the raw value without a trailing NUL, binary-safe", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  const v = new Uint8Array([0, 1, 2, 0, 255]);
  assert.equal(c.write("/a", v), "OK");
  const r = c.call(XS_READ, ["/a"]);
  assert.deepEqual([...r.payload], [...v]);
  assert.equal(c.read("/missing"), "ENOENT");
});

test("WRITE creates missing parents with empty values and lists children in creation order", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  assert.equal(c.write("/x/y/z", "v"), "OK");
  assert.equal(c.read("/x"), "=");
  assert.equal(c.read("/x/y"), "=");
  assert.equal(c.write("/x/b", "1"), "OK");
  assert.equal(c.write("/x/a", "2"), "OK");
  assert.deepEqual(c.dir("/x"), ["y", "b", "a"]);
  assert.equal(c.call(XS_WRITE, str("/no-nul")).err, "EINVAL");
});

test("MKDIR keeps an existing value, RM removes subtrees and tolerates an absent node", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  c.write("/a", "keep");
  assert.equal(c.mkdir("/a"), "OK");
  assert.equal(c.read("/a"), "=keep");
  assert.equal(c.mkdir("/a/b/c"), "OK");
  assert.equal(c.rm("/a"), "OK");
  assert.equal(c.read("/a/b/c"), "ENOENT");
  assert.equal(c.rm("/a"), "OK", "absent node with existing parent");
  assert.equal(c.rm("/a/b"), "ENOENT", "absent parent");
  assert.equal(c.rm("/"), "EINVAL");
  assert.deepEqual(c.dir("/"), ["tool", "local", "vm"]);
});

test("bad paths are EINVAL", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  for (const p of ["", "/a//b", "/a/", "/a b", "/é", "@introduceDomain", `/${"x".repeat(3072)}`]) {
    assert.equal(c.read(p), "EINVAL", JSON.stringify(p.slice(0, 20)));
  }
  assert.equal(c.read("/"), "=");
  assert.equal(c.call(XS_READ, str("/a\0/b\0")).err, "EINVAL", "two arguments");
  assert.equal(c.call(XS_READ, str("/a")).err, "EINVAL", "missing NUL");
  assert.equal(c.call(XS_READ, new Uint8Array(0)).err, "EINVAL", "empty payload");
});

test("unknown and master-only types are ENOSYS; replies echo req_id and tx_id", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  for (const t of [20, XS_WATCH_EVENT, XS_ERROR, XS_GET_QUOTA, 23, 24, 26, 99, 0xffff]) {
    assert.equal(c.call(t, [""]).err, "ENOSYS", `type ${t}`);
  }
  c.conn.handle(XS_READ, 0xdeadbeef, 0, joinXsStrings(["/local/domain/0/name"]));
  const m = c.sink.msgs.at(-1)!;
  assert.equal(m.reqId, 0xdeadbeef);
  assert.equal(m.type, XS_READ);
});

test("unknown tx_id is ENOENT; TRANSACTION_START inside a transaction is EBUSY", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  assert.equal(c.read("/local", 77), "ENOENT");
  const tx = c.txStart();
  assert.equal(c.call(XS_TRANSACTION_START, [""], tx).err, "EBUSY");
  assert.equal(c.call(XS_TRANSACTION_END, ["X"], tx).err, "EINVAL");
  assert.equal(c.call(XS_TRANSACTION_END, ["T"]).err, "ENOENT");
  assert.equal(c.txEnd(tx, true), "OK");
  assert.equal(c.txEnd(tx, true), "ENOENT", "ended transaction");
});

test("privileged-only operations answer EACCES to a guest", () => {
  const { d } = newDaemon();
  const g = new TestClient(d, 3);
  for (const [t, a] of [
    [XS_INTRODUCE, ["4", "100", "5"]],
    [XS_RELEASE, ["4"]],
    [XS_IS_DOMAIN_INTRODUCED, ["0"]],
    [XS_RESUME, ["4"]],
    [XS_SET_TARGET, ["4", "5"]],
    [XS_CONTROL, ["print", "x"]],
  ] as const) {
    assert.equal(g.call(t, [...a]).err, "EACCES", `type ${t}`);
  }
  assert.deepEqual(g.strings(XS_GET_DOMAIN_PATH, ["7"]), ["/local/domain/7"]);
});

test("domain operations: INTRODUCE, IS_DOMAIN_INTRODUCED, RESUME, SET_TARGET, RELEASE", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  assert.deepEqual(c.strings(XS_IS_DOMAIN_INTRODUCED, ["5"]), ["F"]);
  assert.equal(c.strings(XS_RESUME, ["5"]), "ENOENT");
  assert.equal(c.strings(XS_RELEASE, ["5"]), "ENOENT");
  assert.equal(c.strings(XS_INTRODUCE, ["5", "1234"]), "EINVAL");
  assert.equal(c.strings(XS_INTRODUCE, ["x", "1234", "3"]), "EINVAL");
  assert.deepEqual(c.strings(XS_INTRODUCE, ["5", "1234", "3"]), ["OK"]);
  assert.deepEqual(c.strings(XS_IS_DOMAIN_INTRODUCED, ["5"]), ["T"]);
  assert.deepEqual(c.strings(XS_IS_DOMAIN_INTRODUCED, ["0"]), ["T"]);
  assert.deepEqual(c.strings(XS_RESUME, ["5"]), ["OK"]);
  assert.equal(c.strings(XS_SET_TARGET, ["5", "6"]), "ENOENT");
  c.strings(XS_INTRODUCE, ["6", "1", "1"]);
  assert.deepEqual(c.strings(XS_SET_TARGET, ["5", "6"]), ["OK"]);
  assert.deepEqual(c.strings(XS_RELEASE, ["5"]), ["OK"]);
  assert.deepEqual(c.strings(XS_IS_DOMAIN_INTRODUCED, ["5"]), ["F"]);
  assert.equal(c.strings(XS_GET_DOMAIN_PATH, ["70000"]), "EINVAL");
  assert.equal(c.strings(XS_GET_DOMAIN_PATH, ["-1"]), "EINVAL");
});

test("a stub domain acts as the owner of its target's nodes after SET_TARGET", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  makeGuestHome(c, 6);
  c.strings(XS_INTRODUCE, ["5", "1", "1"]);
  c.strings(XS_INTRODUCE, ["6", "1", "1"]);
  const stub = new TestClient(d, 5);
  assert.equal(stub.write("/local/domain/6/x", "1"), "EACCES");
  c.strings(XS_SET_TARGET, ["5", "6"]);
  assert.equal(stub.write("/local/domain/6/x", "1"), "OK");
});

test("CONTROL: print and help for dom0, EINVAL for anything else", () => {
  const { d, log } = newDaemon();
  const c = new TestClient(d, 0);
  assert.deepEqual(c.strings(XS_CONTROL, ["print", "hello"]), ["OK"]);
  assert.ok(log.some((l) => l.includes("hello")));
  assert.ok(Array.isArray(c.strings(XS_CONTROL, ["help"])));
  assert.equal(c.strings(XS_CONTROL, ["quota"]), "EINVAL");
  assert.equal(c.call(XS_CONTROL, new Uint8Array(0)).err, "EINVAL");
});

test("DIRECTORY_PART returns gencnt and chunks, ending with an empty string", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  const names: string[] = [];
  for (let i = 0; i < 400; i++) {
    const n = `child-with-a-long-name-${i}`;
    names.push(n);
    c.mkdir(`/big/${n}`);
  }
  assert.equal(c.call(XS_DIRECTORY, ["/big"]).err, "E2BIG", "the full list exceeds the payload limit");
  const got: string[] = [];
  let offset = 0;
  let gen: string | undefined;
  for (let round = 0; round < 10; round++) {
    const s = c.strings(XS_DIRECTORY_PART, ["/big", String(offset)]);
    assert.ok(Array.isArray(s), String(s));
    if (gen === undefined) gen = s[0];
    assert.equal(s[0], gen);
    const part = s.slice(1);
    const done = part.at(-1) === "";
    const kids = done ? part.slice(0, -1) : part;
    got.push(...kids);
    offset += kids.reduce((n, k) => n + k.length + 1, 0);
    if (done) break;
  }
  assert.deepEqual(got, names);
  assert.equal(c.strings(XS_DIRECTORY_PART, ["/big", "3"]), "EINVAL", "not at a name boundary");
  assert.equal(c.strings(XS_DIRECTORY_PART, ["/big"]), "EINVAL");
  c.mkdir("/big/one-more");
  const after = c.strings(XS_DIRECTORY_PART, ["/big", "0"]);
  assert.ok(Array.isArray(after) && after[0] !== gen, "generation changes with the child list");
});

test("RESET_WATCHES drops watches and transactions", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  c.watch("/a", "t");
  const tx = c.txStart();
  c.events();
  assert.deepEqual(c.strings(XS_RESET_WATCHES, [""]), ["OK"]);
  c.write("/a", "1");
  assert.deepEqual(c.events(), []);
  assert.equal(c.txEnd(tx, true), "ENOENT");
});

test("WATCH with a third argument is EINVAL in 4.17", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  assert.equal(c.call(XS_WATCH, ["/a", "t", "1"]).err, "EINVAL");
  assert.equal(c.call(XS_WATCH, ["/a"]).err, "EINVAL");
});

test("stats count requests, errors, watch events and open connections", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  c.watch("/s", "t");
  c.write("/s", "1");
  c.read("/missing");
  assert.deepEqual(d.stats, { requests: 3, errors: 1, watchEvents: 2, connections: 1 });
});
