/**
 * The malicious frontend against pvnet's netback, through the library the CLI uses: a
 * handful of fast cases, each with its Linux outcome, the good guests pinging throughout,
 * Domain-0's channels and mappings back at baseline after each; then a short seeded random
 * run that must finish with nothing hung and nothing leaked.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { catalogue, runAdversary } from "../../src/adversary/run.js";
import { defaultHostConfig } from "../../src/toolstack/config.js";

const CASES = [
  "slots-dropped",
  "slots-fatal",
  "lying-producer",
  "bad-gref",
  "zero-length-frag",
  "event-storm",
];

test("every frontend case names a known outcome and a reference", () => {
  const cat = catalogue("frontend");
  assert.ok(cat.length >= 30, `${cat.length} cases`);
  assert.equal(new Set(cat.map((c) => c.name)).size, cat.length, "names are unique");
  for (const c of cat) {
    assert.ok(c.expect.length > 0 && c.ref !== "" && c.does !== "", c.name);
    for (const e of c.expect) assert.ok(["dropped", "fatal", "ignored"].includes(e), `${c.name}: ${e}`);
  }
});

test("frontend cases: Linux's outcome, the vif alone affected, nothing leaked", async () => {
  const res = await runAdversary({
    mode: "frontend",
    config: defaultHostConfig(),
    cases: CASES,
    random: { n: 2000, seed: 7 },
  });
  const by = new Map(res.cases.map((c) => [c.name, c]));
  const want: Record<string, string> = {
    "slots-dropped": "dropped",
    "slots-fatal": "fatal",
    "lying-producer": "fatal",
    "bad-gref": "dropped",
    "zero-length-frag": "ignored",
    "event-storm": "ignored",
  };
  for (const [name, outcome] of Object.entries(want)) {
    const r = by.get(name);
    assert.ok(r !== undefined, `${name} ran`);
    assert.equal(r.observed, outcome, `${name}: ${r.detail} ${r.error ?? ""}`);
    assert.equal(r.leaked, "", `${name} leaked`);
    assert.ok(r.asExpected, name);
    // The good pair kept talking while the case ran, and lost nothing beyond one in flight.
    assert.ok(r.good.received > 0, `${name}: no good traffic`);
    assert.ok(
      r.good.sent - r.good.received <= 2,
      `${name}: good guests lost ${r.good.sent - r.good.received}`,
    );
    if (outcome !== "fatal") assert.equal(r.vifAlive, true, `${name}: the vif stopped passing frames`);
  }
  assert.equal(by.get("slots-fatal")?.vifState, "Closing");
  assert.ok(res.random !== null);
  assert.equal(res.random.leaked, "", "random run: leaked or failed");
  assert.ok(res.random.writes >= 2000 && res.random.reconnects > 0, JSON.stringify(res.random));
  assert.ok(res.ok);
});
