/**
 * Every program in examples/ runs as a user runs it (its own process, importing "pvnet/..."
 * through the package's exports), prints what it promises and exits by itself; the README's
 * library example is one of them, character for character.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { EXAMPLES, README_EXAMPLE, readmeLibraryExample, runNode } from "./cases.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const DIST_EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));

for (const ex of EXAMPLES) {
  test(`examples/${ex.name} prints its result and exits 0 on its own`, async () => {
    const r = await runNode(`${DIST_EXAMPLES}${ex.name}.js`, ROOT, 20_000);
    assert.equal(r.signal, null, `killed after ${r.ms.toFixed(0)} ms: it did not exit\n${r.out}${r.err}`);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.out}${r.err}`);
    assert.equal(r.err, "", "nothing on stderr");
    for (const re of ex.expect) assert.match(r.out, re);
  });
}

test("every program in examples/ is in the table the tests and the pack check run", () => {
  const files = readdirSync(`${ROOT}examples`)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
  assert.deepEqual(files, EXAMPLES.map((e) => e.name).sort());
});

test("the README's library example is examples/ring-pair.ts, verbatim", () => {
  const shown = readmeLibraryExample(readFileSync(`${ROOT}README.md`, "utf8"));
  assert.ok(shown !== undefined, 'README.md has a "## As a library" section with a ```ts block');
  assert.equal(shown, readFileSync(`${ROOT}examples/${README_EXAMPLE}.ts`, "utf8"));
});

// The README's example (the file is the main module and every domain's program), a guest
// program of your own, and Domain-0's hotplug module: each worker must load its .ts through
// the loader the main thread was started with.
for (const name of [README_EXAMPLE, "own-guest", "custom-backend"])
  test(`examples/${name} runs from its TypeScript source under tsx (node --import tsx)`, async () => {
    const r = await runNode(`${ROOT}examples/${name}.ts`, ROOT, 30_000, [], ["--import", "tsx"]);
    assert.equal(r.signal, null, `killed after ${r.ms.toFixed(0)} ms\n${r.out}${r.err}`);
    assert.equal(r.code, 0, `exit ${r.code}\n${r.out}${r.err}`);
    for (const re of EXAMPLES.find((e) => e.name === name)!.expect) assert.match(r.out, re);
  });
