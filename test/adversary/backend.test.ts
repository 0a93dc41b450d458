/**
 * The malicious backend in Domain-0 against a victim's pvnet netfront, through the library
 * the CLI uses: fast cases with Linux's outcome for each (§7.5), the good guests pinging
 * throughout, Domain-0's resources back at baseline; then a short seeded random run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { catalogue, runAdversary } from "../../src/adversary/run.js";
import { defaultHostConfig } from "../../src/toolstack/config.js";

test("every backend case names a known outcome and a reference", () => {
  const cat = catalogue("backend");
  assert.ok(cat.length >= 10, `${cat.length} cases`);
  assert.equal(new Set(cat.map((c) => c.name)).size, cat.length, "names are unique");
  for (const c of cat) assert.ok(c.expect.length > 0 && c.ref !== "", c.name);
});

test("backend cases: netfront breaks on violations, counts honest failures, shrugs off storms", async () => {
  const want: Record<string, string> = {
    "tx-id-duplicate": "fatal",
    "tx-id-out-of-range": "fatal",
    "tx-id-inactive": "fatal",
    "tx-error-status": "dropped",
    "rx-bad-id": "fatal",
    "rx-error-status": "dropped",
    "event-storm": "ignored",
  };
  const res = await runAdversary({
    mode: "backend",
    config: defaultHostConfig(),
    cases: Object.keys(want),
    random: { n: 2000, seed: 3 },
  });
  for (const [name, outcome] of Object.entries(want)) {
    const r = res.cases.find((c) => c.name === name);
    assert.ok(r !== undefined, `${name} ran`);
    assert.equal(r.observed, outcome, `${name}: ${r.detail} ${r.error ?? ""}`);
    assert.equal(r.leaked, "", `${name} leaked`);
    assert.ok(r.good.received > 0, `${name}: no good traffic`);
    if (outcome !== "fatal") assert.equal(r.vifAlive, true, `${name}: the device stopped receiving`);
    assert.ok(r.asExpected, name);
  }
  assert.ok(res.random !== null && res.random.leaked === "", JSON.stringify(res.random));
  assert.ok(res.random.writes >= 2000);
  assert.ok(res.ok);
});
