import assert from "node:assert/strict";
import { test } from "node:test";
import { Machine } from "../../src/hv/machine.js";
import { RING_ERR_REQ_PROD, ringErrorText } from "../../src/ring/errors.js";
import { demoArgs } from "../demo/demo-args.js";
import type { EvilReport } from "./programs/evil-guest.js";

const ROUNDS = 40;

test("a guest scribbling over its ring is cut off alone, every time, its grants unmapped; another guest keeps being served", async () => {
  const { gc, bc, args } = demoArgs();
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
    const attacked = new Promise<EvilReport>((r) =>
      m.on("report", (_d, x: EvilReport) => x.t === "attacked" && r(x)),
    );
    await m.createDomain({
      name: "good",
      pages: 512,
      program: program("../../src/demo/ring-guest.js"),
      args,
    });
    const evil = await m.createDomain({
      name: "evil",
      pages: 16,
      program: program("./programs/evil-guest.js"),
      args: { rounds: ROUNDS, seed: 0x5eed },
    });
    const before = gc.get("responses");
    const rep = await attacked;
    assert.deepEqual(rep.refused, [], "every round got a fresh connection");
    assert.equal(rep.rounds, ROUNDS);
    // Every round ended in a disconnect for an impossible req_prod, and nothing else.
    assert.deepEqual(rep.reasons, Array(ROUNDS).fill(ringErrorText(RING_ERR_REQ_PROD)));
    assert.equal(bc.get("protoErrors"), ROUNDS);
    assert.equal(rep.stillMapped, 0, "Domain-0 unmapped the ring and buffer of each dead connection");
    assert.ok(bc.get("badRequests") > 0, "garbage requests were consumed and refused one by one");
    // Only the good guest is left mapped: its order-0 ring page and 128 buffer pages.
    assert.equal(bc.get("conns"), 1);
    assert.equal(bc.get("maps"), 1 + 128);
    await new Promise((r) => setTimeout(r, 100));
    const g = gc.snapshot();
    assert.ok(g.responses > before, "the good guest is still served after the attack");
    assert.equal(g.rspErrors, 0, "none of the good guest's frames was refused");
    assert.equal(g.protoErrors, 0);
    assert.deepEqual(errors, [], "no domain crashed");
    assert.deepEqual(
      m.status().map((d) => [d.domid, d.state]),
      [
        [0, "running"],
        [1, "running"],
        [evil, "running"],
      ],
    );
  } finally {
    await m.shutdown();
  }
});
