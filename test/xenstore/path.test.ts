import assert from "node:assert/strict";
import { test } from "node:test";
import { vifBackendPath, vifFrontendPath } from "../../src/xenstore/keys.js";
import { isAtOrBelow, parentOf, relativeTo, resolvePath } from "../../src/xenstore/path.js";

test("resolvePath resolves relative names against /local/domain/<domid>", () => {
  assert.deepEqual(resolvePath("device/vif", 3), {
    abs: "/local/domain/3/device/vif",
    relative: true,
    special: false,
  });
  assert.deepEqual(resolvePath("/vm", 3), { abs: "/vm", relative: false, special: false });
  assert.deepEqual(resolvePath("/", 3), { abs: "/", relative: false, special: false });
});

test("resolvePath rejects what C xenstored rejects, with EINVAL", () => {
  for (const p of ["", "/a//b", "/a/", "a/", "/a b", "/a.b", "/a\u00e9", "@releaseDomain", "//"]) {
    assert.deepEqual(resolvePath(p, 0), { err: "EINVAL" }, JSON.stringify(p));
  }
  assert.deepEqual(resolvePath("@releaseDomain", 0, { allowSpecial: true }), {
    abs: "@releaseDomain",
    relative: false,
    special: true,
  });
  assert.ok("abs" in resolvePath(`/${"a".repeat(3071)}`, 0));
  assert.deepEqual(resolvePath(`/${"a".repeat(3072)}`, 0), { err: "EINVAL" });
});

test("the path-length quota counts only the part below /local/domain/<n>/", () => {
  assert.ok("abs" in resolvePath("x".repeat(10), 1, { pathLenQuota: 10 }));
  assert.deepEqual(resolvePath("x".repeat(11), 1, { pathLenQuota: 10 }), { err: "EINVAL" });
  assert.deepEqual(resolvePath(`/vm/${"x".repeat(10)}`, 1, { pathLenQuota: 10 }), { err: "EINVAL" });
});

test("path helpers", () => {
  assert.equal(parentOf("/a/b"), "/a");
  assert.equal(parentOf("/a"), "/");
  assert.equal(parentOf("/"), undefined);
  assert.ok(isAtOrBelow("/a/b", "/a") && isAtOrBelow("/a", "/a") && isAtOrBelow("/a", "/"));
  assert.ok(!isAtOrBelow("/ab", "/a") && !isAtOrBelow("/a", "/a/b"));
  assert.equal(relativeTo("/local/domain/2/device", 2), "device");
  assert.equal(relativeTo("/vm/x", 2), "/vm/x");
  assert.equal(vifFrontendPath(3, 0), "/local/domain/3/device/vif/0");
  assert.equal(vifBackendPath(0, 3, 1), "/local/domain/0/backend/vif/3/1");
});
