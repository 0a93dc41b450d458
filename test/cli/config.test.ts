/**
 * `pvnet config` as a user runs it, each call its own process: print the default, pipe it
 * back into `check`, check a file on disk, and a broken and a missing file.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_HOST_YAML } from "../../src/toolstack/config.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function pvnet(args: string[], input?: string): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  child.stdin.end(input ?? "");
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, out, err })));
}

test("pvnet config default prints the embedded host; check reads it back from a pipe", async () => {
  const d = await pvnet(["config", "default"]);
  assert.deepEqual([d.code, d.err], [0, ""]);
  assert.equal(d.out, DEFAULT_HOST_YAML);
  for (const file of ["-", "/dev/stdin"]) {
    const c = await pvnet(["config", "check", file], d.out);
    const name = file === "-" ? "<stdin>" : file;
    assert.deepEqual([c.code, c.out, c.err], [0, `${name}: ok (3 domains, 2 vifs, 1 bridge)\n`, ""]);
  }
});

test("pvnet config check: a good file is ok; a bad one lists each issue with file, line and field; exit 1", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-config-cli-"));
  try {
    const good = join(dir, "host.yaml");
    writeFileSync(good, DEFAULT_HOST_YAML.replace("queues: 1", "queues: 4"));
    const g = await pvnet(["config", "check", good]);
    assert.deepEqual([g.code, g.out, g.err], [0, `${good}: ok (3 domains, 2 vifs, 1 bridge)\n`, ""]);

    const bad = join(dir, "bad.yaml");
    const text = [
      "domains:",
      "  - name: Domain-0",
      "  - name: guest1",
      "    vifs:",
      "      - { mac: '01:00:5e:00:00:01', bridge: vale0 }",
      "      - { queues: 12 }",
      "bridges: { vale0: {} }",
      "",
    ].join("\n");
    writeFileSync(bad, text);
    const b = await pvnet(["config", "check", bad]);
    assert.equal(b.code, 1);
    assert.equal(b.out, "");
    // Schema first: the semantic rule (multicast) only runs once the shape is right.
    assert.deepEqual(b.err.split("\n"), [
      `pvnet config: ${bad}:6:19: domains[1].vifs[1].queues: 12 is out of range (expected an integer from 1 to 8)`,
      "",
    ]);
    writeFileSync(bad, text.replace("{ queues: 12 }", "{ queues: 2 }"));
    const m = await pvnet(["config", "check", bad]);
    assert.equal(m.code, 1);
    assert.match(
      m.err,
      /^pvnet config: .*bad\.yaml:5:16: domains\[1\]\.vifs\[0\]\.mac: 01:00:5e:00:00:01 is a multicast address/,
    );
    assert.doesNotMatch(m.err, /\n {4}at /, "no stack trace");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pvnet config check: a missing file and a file that is not YAML each give one line, exit 1", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-config-cli-"));
  try {
    const missing = join(dir, "nope.yaml");
    const r = await pvnet(["config", "check", missing]);
    assert.deepEqual(
      [r.code, r.out, r.err],
      [1, "", `pvnet config: ${missing}: no such file (ENOENT) (expected a readable YAML host file)\n`],
    );
    const junk = join(dir, "junk.yaml");
    writeFileSync(junk, "domains: [ {name: a\n");
    const j = await pvnet(["config", "check", junk]);
    assert.equal(j.code, 1);
    assert.match(j.err, new RegExp(`^pvnet config: ${junk}:2:1: YAML: `));
    assert.ok(j.err.split("\n").every((l) => l === "" || l.startsWith("pvnet config: ")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
