import assert from "node:assert/strict";
import { test } from "node:test";
import { PvnetError } from "../../src/base/errors.js";
import { Machine } from "../../src/hv/machine.js";

const peer = new URL("./programs/evt-peer.js", import.meta.url);
const failing = new URL("./programs/fail-boot.js", import.meta.url);

function rejectsWith(p: Promise<unknown>, code: string, text: RegExp) {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PvnetError, `not a PvnetError: ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, text);
    return true;
  });
}

test("a bad domain spec names its field before anything is allocated", async () => {
  const m = new Machine();
  try {
    await rejectsWith(
      m.createDomain({ name: "d", pages: 0, program: peer }),
      "EINVAL",
      /pages must be an integer/,
    );
    await rejectsWith(m.createDomain({ name: "", pages: 8, program: peer }), "EINVAL", /name must be/);
    await rejectsWith(
      m.createDomain({ name: "d", pages: 8, grantFrames: 65, program: peer }),
      "EINVAL",
      /grantFrames must be an integer from 1 to 64, got 65/,
    );
    await rejectsWith(
      m.createDomain({ name: "d", pages: 8, program: peer, loopMode: "spin" as never }),
      "EINVAL",
      /loopMode/,
    );
    await rejectsWith(
      m.createDomain({ name: "d", pages: 8, program: peer, nice: 20 }),
      "EINVAL",
      /nice must be an integer from -20 to 19, got 20/,
    );
    await rejectsWith(
      m.createDomain({ name: "d", pages: 8, program: new URL("./programs/nope.js", import.meta.url) }),
      "ENOENT",
      /no program at .*nope\.js/,
    );
    assert.deepEqual(m.status(), [], "nothing was created");
    // None of that used up domid 0.
    assert.equal(await m.createDomain({ name: "dom0", pages: 16, program: peer, args: { role: "back" } }), 0);
  } finally {
    await m.shutdown();
  }
});

test("a Domain-0 that fails to start gives domid 0 back; a missing import is ENOENT", async () => {
  const m = new Machine();
  try {
    await rejectsWith(
      m.createDomain({ name: "dom0", pages: 16, program: failing, args: { how: "throw" } }),
      "EBUG",
      /refusing to boot/,
    );
    await rejectsWith(
      m.createDomain({ name: "dom0", pages: 16, program: failing, args: { how: "import" } }),
      "ENOENT",
      /no-such-module/,
    );
    assert.deepEqual(m.status(), [], "a failed Domain-0 leaves no record behind");
    const id = await m.createDomain({ name: "dom0", pages: 16, program: peer, args: { role: "back" } });
    assert.equal(id, 0);
    assert.equal(m.status().find((d) => d.domid === 0)?.privileged, true);
  } finally {
    await m.shutdown();
  }
});
