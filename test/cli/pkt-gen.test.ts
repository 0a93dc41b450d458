/**
 * `pvnet pkt-gen` as a user runs it (its own process, --local): the command lines of
 * issue 22 that failed, end to end.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pvnet-cli-pktgen-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const ENV = { ...process.env, PVNET_NETMAPD_SOCKET: join(dir, "no-netmapd.sock") };

function run(
  args: readonly string[],
  env: NodeJS.ProcessEnv = ENV,
  killAfterMs = 30_000,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [MAIN, "pkt-gen", ...args], { env });
    const kill = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
    p.on("close", () => clearTimeout(kill));
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    p.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, out, err }));
  });
}

test("pkt-gen on a port, its monitor and a sender runs for --for and reports the monitor's drops", async () => {
  const r = await run(
    ["-i", "vale0:b", "-f", "rx", "++", "-i", "vale0:b/r", "-f", "rx", "++"].concat([
      "-i",
      "vale0:a",
      "-f",
      "tx",
      "--for",
      "1.2",
      "--local",
    ]),
  );
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  assert.match(r.out, /^\[1\] Received \d+ packets/m);
  assert.match(
    r.out,
    /^\[1\] Dropped \d+ packets on vale0:b\/r \(excess traffic: the monitor's ring was full\)$/m,
  );
  const secs = /^\[2\] Sent \d+ packets .* in ([0-9.]+) seconds\.$/m.exec(r.out);
  assert.ok(secs !== null, r.out);
  assert.ok(Number(secs[1]) >= 1.15 && Number(secs[1]) <= 1.5, `the sender ran ${secs[1]} s`);
});

test("a trailing ++ is refused with one line", async () => {
  const r = await run(["-i", "vale0:b", "-f", "rx", "++", "-i", "vale0:a", "-f", "tx", "++", "--local"]);
  assert.equal(r.code, 1);
  assert.equal(r.out, "");
  assert.match(r.err, /^pvnet pkt-gen: \+\+: no instance after the last \+\+ \(expected [^\n]*\)\n$/);
});

test("through a netmapd too, -n on one instance ends its partner", async () => {
  const sock = join(dir, "netmapd.sock");
  const daemon = spawn(process.execPath, [MAIN, "netmapd"], {
    env: { ...process.env, PVNET_NETMAPD_SOCKET: sock },
  });
  try {
    let err = "";
    daemon.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const until = Date.now() + 10_000;
    while (!err.includes("listening on")) {
      assert.ok(Date.now() < until, `netmapd did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = performance.now();
    const r = await run(
      ["-i", "vale0:srv", "-f", "pong", "++", "-i", "vale0:cli", "-f", "ping", "-n", "20"],
      { ...process.env, PVNET_NETMAPD_SOCKET: sock },
      15_000,
    );
    assert.equal(r.code, 0, `${r.err}\n${r.out}`);
    assert.ok(performance.now() - t0 < 12_000, "the pong ran on");
    assert.match(r.out, /^\[1\] RTT over 20 packets/m);
    assert.match(r.out, /^\[0\] Received 20 packets/m);
  } finally {
    daemon.kill("SIGTERM");
    await new Promise((r) => daemon.once("close", r));
  }
});
