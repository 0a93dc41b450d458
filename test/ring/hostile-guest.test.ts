import assert from "node:assert/strict";
import { test } from "node:test";
import { backCounters, guestCounters, type RingPairArgs } from "../../src/demo/ring-proto.js";
import { Machine } from "../../src/hv/machine.js";

test("a guest scribbling over its ring is cut off alone; another guest keeps being served", async () => {
  const gc = guestCounters();
  const bc = backCounters();
  const args: RingPairArgs = {
    frameBytes: 128,
    batch: 32,
    count: 0,
    order: 0,
    verify: true,
    echo: false,
    budget: 1024,
    guestCounters: gc.buffer,
    backCounters: bc.buffer,
  };
  const m = new Machine();
  const errors: string[] = [];
  try {
    const program = (p: string) => new URL(p, import.meta.url);
    await m.createDomain({
      name: "Domain-0",
      pages: 256,
      program: program("../../src/demo/ring-back.js"),
      args,
    });
    m.on("domain-failed", (d, e) => errors.push(`dom${d}: ${e.message}`));
    const attacked = new Promise<unknown>((r) =>
      m.on("report", (_d, x: { t: string }) => x.t === "attacked" && r(x)),
    );
    const evil = await m.createDomain({
      name: "evil",
      pages: 16,
      program: program("./programs/evil-guest.js"),
      args: { rounds: 200, seed: 0x5eed },
    });
    await m.createDomain({
      name: "good",
      pages: 512,
      program: program("../../src/demo/ring-guest.js"),
      args,
    });
    await attacked;
    const before = gc.get("responses");
    await new Promise((r) => setTimeout(r, 300));
    const b = bc.snapshot();
    const g = gc.snapshot();
    assert.ok(b.protoErrors + b.badRequests > 0, "the backend saw the garbage");
    assert.ok(g.responses > before, "the good guest is still served after the attack");
    assert.equal(g.rspErrors, 0, "none of the good guest's frames was refused");
    assert.equal(g.protoErrors, 0);
    assert.deepEqual(errors, [], "no domain crashed");
    assert.ok(m.status().every((d) => d.state === "running"));
    assert.ok(evil > 0);
  } finally {
    await m.shutdown();
  }
});
