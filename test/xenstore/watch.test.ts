import assert from "node:assert/strict";
import { test } from "node:test";
import { XS_INTRODUCE, XS_RELEASE } from "../../src/wire/xen/xs-wire.js";
import { makeGuestHome, newDaemon, TestClient } from "./harness.js";

test("a watch fires once at registration with the path as given, after the OK", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  assert.equal(c.watch("/local/domain/1/device/vif/0/state", "tok"), "OK");
  const [reply, ev] = c.sink.msgs;
  assert.equal(reply.type, 4);
  assert.equal(ev.type, 15);
  assert.deepEqual(c.events(), ["/local/domain/1/device/vif/0/state tok"]);
  assert.equal(c.watch("/local/domain/1/device/vif/0/state", "tok"), "EEXIST");
  assert.equal(c.watch("/local/domain/1/device/vif/0/state", "tok2"), "OK", "another token is another watch");
});

test("changes at or below the path fire; siblings and ancestors do not", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  const w = new TestClient(d, 0);
  w.watch("/a/b", "t");
  w.events();
  c.write("/a/b", "1");
  c.write("/a/b/c/d", "2");
  c.write("/a/bc", "3");
  c.write("/a", "4");
  c.mkdir("/a/b/c"); // exists: no change, no event
  c.setPerms("/a/b/c", ["n0", "r1"]);
  c.rm("/a/b/c/d");
  assert.deepEqual(w.events(), ["/a/b t", "/a/b/c/d t", "/a/b/c t", "/a/b/c/d t"]);
});

test("removing a parent reports the watched path itself", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  c.write("/p/q/r", "x");
  c.watch("/p/q/r", "deep");
  c.watch("/p", "top");
  c.events();
  c.rm("/p/q");
  assert.deepEqual(c.events().sort(), ["/p/q top", "/p/q/r deep"]);
});

test("a relative watch hears relative names", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1);
  const g = new TestClient(d, 1);
  g.watch("device", "rel");
  g.watch("/local/domain/1/device", "abs");
  assert.deepEqual(g.events(), ["device rel", "/local/domain/1/device abs"]);
  g.write("device/vif/0/state", "1");
  assert.deepEqual(g.events(), ["device/vif/0/state rel", "/local/domain/1/device/vif/0/state abs"]);
});

test("events for nodes the watcher cannot read are suppressed (XSA-115)", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1);
  const g = new TestClient(d, 1);
  g.watch("/", "all");
  g.events();
  dom0.write("/secret/key", "x");
  dom0.write("/local/domain/1/mine", "y");
  dom0.write("/local/domain/1/hidden", "z");
  dom0.setPerms("/local/domain/1/hidden", ["n0"]);
  dom0.write("/local/domain/1/hidden", "zz");
  assert.deepEqual(g.events(), [
    "/local/domain/1/mine all",
    "/local/domain/1/hidden all",
    "/local/domain/1/hidden all", // the perms change: readable before it
  ]);
});

test("@introduceDomain and @releaseDomain fire for dom0 and for guests allowed by their perms", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  const g = new TestClient(d, 7);
  dom0.watch("@introduceDomain", "i");
  dom0.watch("@releaseDomain", "r");
  g.watch("@releaseDomain", "gr");
  assert.deepEqual(dom0.events(), ["@introduceDomain i", "@releaseDomain r"]);
  assert.deepEqual(g.events(), ["@releaseDomain gr"], "the initial fire is unconditional");
  dom0.strings(XS_INTRODUCE, ["3", "1", "1"]);
  assert.deepEqual(dom0.events(), ["@introduceDomain i"]);
  dom0.strings(XS_RELEASE, ["3"]);
  assert.deepEqual(dom0.events(), ["@releaseDomain r"]);
  assert.deepEqual(g.events(), []);
  dom0.setPerms("@releaseDomain", ["n0", "r7"]);
  d.introduceDomain(4);
  d.releaseDomain(4);
  assert.deepEqual(g.events(), ["@releaseDomain gr"]);
  assert.deepEqual(dom0.events(), ["@introduceDomain i", "@releaseDomain r"]);
  dom0.write("/x", "1");
  assert.deepEqual(dom0.events(), [], "special watches ignore node changes");
});

test("UNWATCH removes one watch; an unknown one is ENOENT", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  c.watch("/a", "t");
  assert.equal(c.unwatch("/a", "t"), "OK");
  assert.equal(c.unwatch("/a", "t"), "ENOENT");
  c.events();
  c.write("/a", "1");
  assert.deepEqual(c.events(), []);
});

test("closing a connection drops its watches (xenstore-watch never UNWATCHes)", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  const w = new TestClient(d, 0);
  w.watch("/a", "t");
  assert.equal(d.stats.connections, 2);
  w.conn.close();
  w.conn.close();
  assert.equal(d.stats.connections, 1);
  assert.equal(d.watches.total, 0);
  c.write("/a", "1");
  assert.deepEqual(w.events(), ["/a t"], "only the initial event");
});

test("a slow reader is closed with a logged reason and the others keep working", () => {
  const { d, log } = newDaemon();
  const c = new TestClient(d, 0);
  const slow = new TestClient(d, 0);
  const fast = new TestClient(d, 0);
  slow.watch("/a", "s");
  fast.watch("/a", "f");
  slow.sink.full = true;
  c.write("/a", "1");
  assert.match(slow.sink.closedWith ?? "", /slow reader/);
  assert.ok(log.some((l) => l.includes("slow reader")));
  assert.equal(d.stats.connections, 2);
  slow.sink.full = false;
  const before = slow.sink.msgs.length;
  slow.conn.handle(2, 1, 0, new Uint8Array([47, 0]));
  assert.equal(slow.sink.msgs.length, before, "a closed connection gets nothing more");
  c.write("/a", "2");
  assert.deepEqual(fast.events(), ["/a f", "/a f", "/a f"]);
});

test("a request that queues too many events for one connection closes it", () => {
  const { d } = newDaemon({ maxQueuedEvents: 3 });
  const c = new TestClient(d, 0);
  const w = new TestClient(d, 0);
  for (let i = 0; i < 5; i++) w.watch("/a", `t${i}`);
  c.write("/a", "1");
  assert.match(w.sink.closedWith ?? "", /watch events/);
  assert.equal(c.sink.closedWith, undefined);
});

test("releasing a domain closes its connections", () => {
  const { d } = newDaemon();
  d.introduceDomain(9);
  const g = new TestClient(d, 9);
  g.watch("/local/domain/9", "t");
  d.releaseDomain(9);
  assert.match(g.sink.closedWith ?? "", /released/);
  assert.equal(d.watches.total, 0);
});

test("a released domain's nodes pass to dom0 so a reused domid inherits nothing (XSA-322)", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 9);
  dom0.write("/shared-with-9", "x");
  dom0.setPerms("/shared-with-9", ["n0", "r9"]);
  d.introduceDomain(9);
  d.releaseDomain(9);
  assert.equal(dom0.getPerms("/local/domain/9"), "n0,r0");
  assert.equal(dom0.getPerms("/shared-with-9"), "n0");
  const again = new TestClient(d, 9);
  assert.equal(again.read("/local/domain/9"), "EACCES");
});

test("an over-long payload handed to handle() closes the connection", () => {
  const { d } = newDaemon();
  const c = new TestClient(d, 0);
  c.conn.handle(2, 1, 0, new Uint8Array(4097));
  assert.match(c.sink.closedWith ?? "", /protocol error/);
});
