/**
 * xenbus_dev_fatal's error node is where Linux puts it: error/<nodename>/error relative to
 * the writing domain's home, the nodename itself relative to that home.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { XsOps } from "../../src/xenstore/client.js";
import { devErrorText, writeDevError } from "../../src/xenstore/dev-error.js";
import { errorPath } from "../../src/xenstore/keys.js";

test("a backend's error node: /local/domain/0/error/backend/vif/N/0/error", () => {
  assert.equal(
    errorPath(0, "/local/domain/0/backend/vif/7/0"),
    "/local/domain/0/error/backend/vif/7/0/error",
  );
  assert.equal(errorPath(0, "backend/vif/7/0"), "/local/domain/0/error/backend/vif/7/0/error");
});

test("a frontend's error node: error/device/vif/0/error in the guest's home", () => {
  assert.equal(errorPath(3, "device/vif/0"), "/local/domain/3/error/device/vif/0/error");
  assert.equal(errorPath(3, "/local/domain/3/device/vif/1"), "/local/domain/3/error/device/vif/1/error");
});

test("writeDevError writes '<errno> <message>' at that node, and never throws", async () => {
  const writes: [string, string][] = [];
  const ok = { write: async (p: string, v: string) => void writes.push([p, v]) } as unknown as XsOps;
  const text = await writeDevError(ok, 0, "/local/domain/0/backend/vif/2/0", "EINVAL", "bad ring");
  assert.equal(text, devErrorText("EINVAL", "bad ring"));
  assert.deepEqual(writes, [["/local/domain/0/error/backend/vif/2/0/error", "22 bad ring"]]);
  const failing = {
    write: async () => {
      throw new Error("EACCES");
    },
  } as unknown as XsOps;
  assert.equal(await writeDevError(failing, 4, "device/vif/0", "EIO", "x"), "5 x");
});
