import assert from "node:assert/strict";
import { test } from "node:test";
import { XS_SET_PERMS } from "../../src/wire/xen/xs-wire.js";
import { canRead, canWrite, formatPerms, inheritPerms, parsePerms } from "../../src/xenstore/store/perms.js";
import { makeGuestHome, newDaemon, TestClient } from "./harness.js";

test("parsePerms accepts n/r/w/b plus a domid and rejects anything else", () => {
  const p = parsePerms(["b1", "r0", "w65535", "n7"]);
  assert.ok(Array.isArray(p));
  assert.deepEqual(formatPerms(p), ["b1", "r0", "w65535", "n7"]);
  for (const bad of ["x1", "r", "r-1", "r65536", "r1a", "", "R1", "r 1"]) {
    assert.ok("err" in parsePerms([bad]), bad);
  }
  assert.ok("err" in parsePerms([]));
});

test("owner has full access, listed domains their letter, others the owner's letter", () => {
  const p = parsePerms(["r1", "w2", "n3"]);
  assert.ok(Array.isArray(p));
  const who = (domid: number) => ({ domid, privileged: false });
  assert.ok(canRead(p, who(1)) && canWrite(p, who(1)), "owner");
  assert.ok(!canRead(p, who(2)) && canWrite(p, who(2)), "w2");
  assert.ok(!canRead(p, who(3)) && !canWrite(p, who(3)), "n3");
  assert.ok(canRead(p, who(4)) && !canWrite(p, who(4)), "default r");
  assert.ok(canRead(p, { domid: 4, privileged: true }) && canWrite(p, { domid: 4, privileged: true }));
  const child = inheritPerms(p, who(2));
  assert.deepEqual(formatPerms(child), ["r2", "w2", "n3"], "a guest owns what it creates");
  assert.deepEqual(formatPerms(inheritPerms(p, { domid: 0, privileged: true })), ["r1", "w2", "n3"]);
});

test("a guest reads and writes its home, not other domains' nodes", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1);
  makeGuestHome(dom0, 2);
  const g1 = new TestClient(d, 1);
  assert.equal(g1.write("device/vif/0/state", "1"), "OK");
  assert.equal(g1.read("/local/domain/1/device/vif/0/state"), "=1");
  assert.equal(g1.getPerms("device/vif/0/state"), "n1,r0", "inherited from the parent");
  assert.equal(g1.read("/local/domain/2"), "EACCES");
  assert.equal(g1.write("/local/domain/2/x", "1"), "EACCES");
  assert.equal(g1.read("/local/domain/0/name"), "EACCES");
  assert.equal(g1.read("/local/domain/2/missing"), "EACCES", "no existence leak below an unreadable node");
  assert.equal(g1.read("/local/domain/1/missing"), "ENOENT");
  assert.equal(g1.rm("/local/domain/2"), "EACCES");
  assert.equal(g1.write("/newtop", "x"), "EACCES");
  assert.equal(dom0.read("/local/domain/1/device/vif/0/state"), "=1", "dom0 bypasses checks");
});

test("only the owner may SET_PERMS and only dom0 may change the owner", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  makeGuestHome(dom0, 1);
  makeGuestHome(dom0, 2);
  const g1 = new TestClient(d, 1);
  const g2 = new TestClient(d, 2);
  g1.write("shared", "v");
  assert.equal(g1.setPerms("shared", ["n1", "r2"]), "OK");
  assert.equal(g2.read("/local/domain/1/shared"), "=v", "r2 lets domain 2 read");
  assert.equal(g2.write("/local/domain/1/shared", "x"), "EACCES");
  assert.equal(g2.setPerms("/local/domain/1/shared", ["n1"]), "EACCES", "not the owner");
  assert.equal(g1.setPerms("shared", ["n2"]), "EPERM", "guests cannot give nodes away");
  assert.equal(dom0.setPerms("/local/domain/1/shared", ["b2"]), "OK");
  assert.equal(g2.getPerms("/local/domain/1/shared"), "b2");
  assert.equal(g1.setPerms("shared", ["n1"]), "EACCES", "no longer the owner");
  assert.equal(g1.setPerms("missing", ["n1"]), "ENOENT");
  assert.equal(g1.call(XS_SET_PERMS, ["shared"]).err, "EINVAL", "no perms");
  assert.equal(g1.call(XS_SET_PERMS, ["shared", "q1"]).err, "EINVAL");
});

test("perms are checked per node, not along the path", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  dom0.write("/local/domain/1/open", "yes");
  dom0.setPerms("/local/domain/1/open", ["n0", "r2"]);
  const g2 = new TestClient(d, 2);
  assert.equal(g2.read("/local/domain/1"), "EACCES");
  assert.equal(g2.read("/local/domain/1/open"), "=yes");
});

test("special watch nodes carry perms that dom0 may set", () => {
  const { d } = newDaemon();
  const dom0 = new TestClient(d, 0);
  const g = new TestClient(d, 3);
  assert.equal(dom0.getPerms("@releaseDomain"), "n0");
  assert.equal(g.getPerms("@releaseDomain"), "EACCES");
  assert.equal(g.setPerms("@releaseDomain", ["r3"]), "EACCES");
  assert.equal(dom0.setPerms("@releaseDomain", ["n0", "r3"]), "OK");
  assert.equal(g.getPerms("@releaseDomain"), "n0,r3");
  assert.equal(dom0.getPerms("@nonsense"), "ENOENT");
});
