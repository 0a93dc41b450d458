/**
 * `pvnet adversary` as a user runs it: --list (text and JSON) names every case of the
 * catalogue, and bad input (mode, case, numbers, a missing peer program) is one pvnet-style
 * line on stderr with exit status 1, before any host boots.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { catalogue } from "../../src/adversary/run.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, "adversary", ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test("--list names every case with its expected outcome", () => {
  for (const mode of ["frontend", "backend"] as const) {
    const text = run([mode, "--list"]);
    assert.equal(text.code, 0, text.err);
    for (const c of catalogue(mode))
      assert.match(text.out, new RegExp(`^${c.name} +${c.expect.join("\\|")} `, "m"));
    const json = JSON.parse(run([mode, "--list", "--json"]).out) as { cases: { name: string }[] };
    assert.deepEqual(
      json.cases.map((c) => c.name),
      catalogue(mode).map((c) => c.name),
    );
  }
});

test("bad input: one line, exit 1", () => {
  for (const [args, want] of [
    [["sideways"], /unknown mode "sideways"/],
    [["frontend", "--case", "nope"], /no frontend case "nope"/],
    [["backend", "--random", "x"], /--random "x" is not allowed/],
    [["frontend", "--random", "10", "--seed", "-1"], /--seed "-1" is not allowed/],
    [["frontend", "--peer-program", "/nonexistent/x.js"], /no such file/],
  ] as const) {
    const r = run([...args]);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, /^pvnet adversary: .+\n$/);
    assert.match(r.err, want);
    assert.equal(r.out, "");
  }
});
