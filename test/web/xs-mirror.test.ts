import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Machine } from "../../src/hv/machine.js";
import { XsMirror } from "../../src/web/xs-mirror.js";
import { XsClient } from "../../src/xenstore/client.js";
import { Xenstored } from "../../src/xenstore/daemon.js";
import { XsSocketServer } from "../../src/xenstore/transport/socket.js";

async function until(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("the mirror follows the tree by its watch and logs Domain-0's change reports", async () => {
  const dir = mkdtempSync(join(tmpdir(), `pvnet-xs-mirror-${process.pid}-`));
  const daemon = new Xenstored();
  const server = await XsSocketServer.listen(daemon, join(dir, "xs.sock"));
  const machine = new EventEmitter();
  const xs = await XsClient.connect(join(dir, "xs.sock"));
  let m: XsMirror | null = null;
  try {
    await xs.write("/local/domain/0/before", "b");
    m = await XsMirror.start(join(dir, "xs.sock"), machine as unknown as Machine);
    assert.deepEqual(m.tree()["/local/domain/0/before"], { value: "b", perms: ["n0"] });
    m.takeChanges();
    await xs.write("/local/domain/0/new/deep", "v");
    await xs.setPerms("/local/domain/0/new/deep", [
      { letter: "n", domid: 1 },
      { letter: "r", domid: 0 },
    ]);
    await xs.rm("/local/domain/0/before");
    const mm = m;
    await until(
      "the mirror to see the changes",
      () =>
        mm.tree()["/local/domain/0/new/deep"]?.perms.join() === "n1,r0" &&
        mm.tree()["/local/domain/0/before"] === undefined,
    );
    // The implicit parent came along; the removal is in the changes.
    assert.ok(m.tree()["/local/domain/0/new"] !== undefined);
    const ch = m.takeChanges();
    assert.equal(ch.get("/local/domain/0/before"), null);
    assert.equal(m.value("/local/domain/0/new/deep"), "v");

    // The log holds what Domain-0 reports, checked; anything else from anyone is ignored.
    machine.emit("report", 0, {
      t: "xs-changes",
      entries: [
        { at: performance.timeOrigin + performance.now(), domid: 1, path: "/x", value: "4", perms: ["n1"] },
      ],
      dropped: 2,
    });
    machine.emit("report", 1, {
      t: "xs-changes",
      entries: [{ at: 0, domid: 1, path: "/y", value: "1", perms: [] }],
      dropped: 0,
    });
    machine.emit("report", 0, { t: "xs-changes", entries: [{ at: "now" }], dropped: 0 });
    assert.deepEqual(
      m.log().map((e) => [e.seq, e.domid, e.path, e.node]),
      [[1, 1, "/x", { value: "4", perms: ["n1"] }]],
    );
    assert.equal(m.droppedChanges, 2);
  } finally {
    m?.close();
    xs.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
