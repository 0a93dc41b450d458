import assert from "node:assert/strict";
import { test } from "node:test";
import type { RingPairArgs } from "../../src/demo/ring-proto.js";
import { Machine } from "../../src/hv/machine.js";
import { demoArgs } from "./demo-args.js";
import type { ConnectPlan } from "./programs/connect-guest.js";

const program = (p: string) => new URL(p, import.meta.url);

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A well-behaved demo guest, started and seen served (more than 1000 responses). */
async function startGoodGuest(m: Machine, args: RingPairArgs, gc: ReturnType<typeof demoArgs>["gc"]) {
  await m.createDomain({ name: "good", pages: 512, program: program("../../src/demo/ring-guest.js"), args });
  await until("frames from the good guest", () => gc.get("responses") > 1000);
}

async function withBackend(
  fn: (
    m: Machine,
    d: ReturnType<typeof demoArgs>,
    answers: (plan: ConnectPlan) => Promise<string[]>,
  ) => Promise<void>,
): Promise<void> {
  const d = demoArgs();
  const m = new Machine();
  const errors: string[] = [];
  m.on("domain-failed", (id, e) => errors.push(`dom${id}: ${e.message}`));
  try {
    await m.createDomain({
      name: "Domain-0",
      pages: 256,
      program: program("../../src/demo/ring-back.js"),
      args: d.args,
    });
    const answers = async (plan: ConnectPlan): Promise<string[]> => {
      let id = -1;
      const got = new Promise<string[]>((r) =>
        m.on(
          "report",
          (from, x: { t: string; answers: string[] }) => from === id && x.t === "answers" && r(x.answers),
        ),
      );
      id = await m.createDomain({
        name: `g${Math.random()}`,
        pages: 16,
        program: program("./programs/connect-guest.js"),
        args: plan,
      });
      return got;
    };
    await fn(m, d, answers);
    assert.deepEqual(errors, [], "no domain crashed");
  } finally {
    await m.shutdown();
  }
}

test("concurrent connects from one guest: exactly one is served, the rest refused, nothing mapped twice", async () => {
  await withBackend(async (_m, { bc }, answers) => {
    const got = await answers({ plan: ["good", "good", "good", "good"] });
    assert.deepEqual(got.filter((a) => a === "connected").length, 1, got.join("; "));
    assert.deepEqual(
      got.filter((a) => a !== "connected"),
      Array(3).fill("refused: unknown or already connected domain"),
    );
    await until("the gauges", () => bc.get("conns") === 1);
    assert.equal(bc.get("maps"), 2, "one ring page and one buffer page, once");
  });
});

test("duplicate and oversized buffer lists are refused before anything is mapped; a good guest after is served", async () => {
  await withBackend(async (m, { gc, bc, args }, answers) => {
    const got = await answers({ plan: ["dup", "dupSmall", "oversized", "dupAcross"] });
    assert.deepEqual(got, [
      "refused: bufRefs: expected 1 to 2048 grant references below 16384",
      "refused: grant references: expected each ref once",
      "refused: bufRefs: expected 1 to 2048 grant references below 16384",
      "refused: grant references: expected each ref once",
    ]);
    assert.equal(bc.get("maps"), 0);
    assert.equal(bc.get("conns"), 0);
    const got2 = await answers({ plan: ["good"] });
    assert.deepEqual(got2, ["connected"]);
    await startGoodGuest(m, args, gc);
    assert.equal(gc.get("rspErrors"), 0);
    assert.equal(bc.get("conns"), 2);
    // The good guest's order-0 ring: 1 ring page and 128 buffer pages, plus the first guest's 2.
    assert.equal(bc.get("maps"), 2 + 1 + 128);
  });
});

test("a guest destroyed while its connect waits for the event channel leaves nothing mapped", async () => {
  await withBackend(async (m, { gc, bc, args }) => {
    for (let i = 0; i < 6; i++) {
      const id = await m.createDomain({
        name: `doomed${i}`,
        pages: 16,
        program: program("./programs/connect-guest.js"),
        args: { plan: ["good"] } satisfies ConnectPlan,
      });
      // Destroy as soon as the connect can have reached Domain-0: sometimes before its
      // mapping, sometimes while the bind is in flight, sometimes after.
      await new Promise((r) => setTimeout(r, i));
      await m.destroyDomain(id);
    }
    await until("every doomed guest's mappings to end", () => bc.get("maps") === 0 && bc.get("conns") === 0);
    await startGoodGuest(m, args, gc);
    assert.equal(bc.get("maps"), 1 + 128);
    assert.equal(bc.get("conns"), 1);
  });
});
