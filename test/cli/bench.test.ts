/** `pvnet bench --quick` as a user runs it: its figures come with what they are. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { QUICK_NOTE } from "../../bench/result.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [MAIN, "bench", ...args], { timeout: 60_000 });

test("bench --quick says so above its table and in --json", async () => {
  const json = JSON.parse((await run(["xenstore", "--quick", "--json"])).stdout) as {
    results: unknown[];
    quick?: boolean;
  };
  assert.equal(json.quick, true);
  assert.ok(json.results.length > 0);
  const table = (await run(["xenstore", "--quick"])).stdout.split("\n");
  assert.equal(table[0], QUICK_NOTE);
  assert.match(table[1], /^case\s+frame B/);
});
