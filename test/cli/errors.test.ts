/**
 * Every command, run as a user runs it (its own process), with bad input: one line on
 * stderr in the pvnet style, exit status 1, no stack frames, nothing on stdout. The
 * commands are read from `pvnet --help` (and `pvnet xenstore --help`), so a command added
 * to main.ts is covered without touching this file.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pvnet-cli-errors-"));
after(() => rmSync(dir, { recursive: true, force: true }));
// No daemon is found by accident: both default sockets point where nothing listens.
const ENV = {
  ...process.env,
  PVNET_NETMAPD_SOCKET: join(dir, "no-netmapd.sock"),
  XENSTORED_PATH: join(dir, "no-xenstored.sock"),
};

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function run(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, ...args], { env: ENV });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    p.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, out, err }));
  });
}

/** The command names listed under "Commands:" in a help text (without `help`). */
function commandsIn(help: string): string[] {
  const at = help.indexOf("\nCommands:\n");
  assert.ok(at >= 0, help);
  const names: string[] = [];
  for (const line of help.slice(at + 11).split("\n")) {
    const m = /^ {2}([a-z][a-z-]*)/.exec(line);
    if (m === null) {
      if (line.trim() === "" || !line.startsWith("   ")) break;
      continue;
    }
    if (m[1] !== "help") names.push(m[1]!);
  }
  return names;
}

/** Bad input every command gets, plus each command's own; a command not listed gets the common ones. */
const COMMON: string[][] = [["--no-such-option"]];
const EXTRA: Record<string, string[][]> = {
  demo: [["--frame", "1"]],
  up: [
    ["--for", "x"],
    ["--ping-interval", "0"],
    ["--xenstore-socket", ""],
    ["--xenstore-trace", ""],
    [join(dir, "absent.yaml")],
    ["--xenstore-socket", "/proc/pvnet-x/y.sock"],
  ],
  bench: [["nope"]],
  list: [
    ["--control", ""],
    ["--control", join(dir, "no-host.sock")],
  ],
  "network-list": [[], ["guest1", "--control", join(dir, "no-host.sock")]],
  destroy: [[], ["guest1", "--control", join(dir, "no-host.sock")]],
  "backend-restart": [["--control", join(dir, "no-host.sock")]],
  create: [[], ["--name", "g", "--control", join(dir, "no-host.sock")]],
  ping: [
    [],
    ["guest1", "10.0"],
    ["guest1", "10.0.0.2", "-c", "x"],
    ["guest1", "10.0.0.2", "--control", join(dir, "no-host.sock")],
  ],
  top: [[], ["-b", "-i", "0"], ["-b", "-n", "1", "--control", join(dir, "no-host.sock")]],
  "pkt-gen": [
    ["--for"],
    ["-i", "vale0:a", "-s", "10.0.0.9-10.0.0.1"],
    ["-i", "vale0:a", "-f", "tx", "-P", join(dir, "absent.pcap")],
    ["--socket", ""],
    ["--local", "-i", "vale0:a", "-f", "rx", "++", "-i", "vale0:a", "-f", "tx"],
  ],
  netmapd: [
    ["--socket", ""],
    ["--socket", "/proc/pvnet-x/y.sock"],
  ],
  "vale-ctl": [["-C", "5"], ["--socket", ""], ["-l"]],
  xenstored: [
    ["--socket", ""],
    ["--socket", "/proc/pvnet-x/y.sock"],
  ],
  xenstore: [["--socket", "", "read", "/x"]],
  "xenstore read": [["/x"]],
  "xenstore write": [["/x"]],
  "xenstore watch": [["-n", "x", "/x"]],
};

const LINE = /^pvnet [a-z-]+( [a-z-]+)?: .+\n$/;

test("every command answers bad input with one pvnet-style line on stderr and exit 1", async () => {
  const top = commandsIn((await run(["--help"])).out);
  const xs = commandsIn((await run(["xenstore", "--help"])).out).map((n) => `xenstore ${n}`);
  const commands = [...top, ...xs];
  assert.ok(commands.includes("pkt-gen") && commands.includes("xenstore watch"), commands.join(", "));
  const cases: string[][] = [["nosuchcommand"]];
  for (const c of commands)
    for (const bad of [...COMMON, ...(EXTRA[c] ?? [])]) cases.push([...c.split(" "), ...bad]);
  // A few processes at a time: the machine is shared, and each is a Node start-up.
  const results: [string[], Run][] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      for (let i = next++; i < cases.length; i = next++) results.push([cases[i]!, await run(cases[i]!)]);
    }),
  );
  assert.equal(results.length, cases.length);
  for (const [args, r] of results) {
    const what = `pvnet ${args.map((a) => (a === "" ? '""' : a)).join(" ")}: ${JSON.stringify(r)}`;
    assert.equal(r.code, 1, what);
    assert.equal(r.out, "", what);
    assert.match(r.err, LINE, what);
    assert.doesNotMatch(r.err, /\n\s+at |Error:|ERR_/, what);
  }
});
