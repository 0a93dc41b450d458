/**
 * The tools as a user runs them, each its own process: `pvnet netmapd` in the background,
 * `pvnet vale-ctl` to make and attach interfaces, and two `pvnet pkt-gen` processes that
 * meet on the daemon's switch, as two netmap pkt-gens meet in the kernel.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; done: Promise<{ code: number; out: string; err: string }> } {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const done = new Promise<{ code: number; out: string; err: string }>((resolve) =>
    child.on("close", (code) => resolve({ code: code ?? -1, out, err })),
  );
  return { child, done };
}

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("pvnet netmapd + vale-ctl + two pkt-gen processes: frames cross vale0; counts add up", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-netmapd-cli-"));
  const env = { PVNET_NETMAPD_SOCKET: join(dir, "netmapd.sock") };
  let daemonErr = "";
  const daemon = run(["netmapd"], env);
  daemon.child.stderr?.on("data", (c: string) => {
    daemonErr += c;
  });
  try {
    await waitFor(() => daemonErr.includes("listening on"), "netmapd to listen");
    for (const args of [
      ["-n", "vi0"],
      ["-n", "vi1"],
      ["-a", "vale0:vi0"],
      ["-a", "vale0:vi1"],
    ]) {
      const r = await run(["vale-ctl", ...args], env).done;
      assert.equal(r.code, 0, `vale-ctl ${args.join(" ")}: ${r.err}`);
    }
    const list = await run(["vale-ctl"], env).done;
    assert.equal(list.out, "bridge:0 port:0 vale0:vi0\nbridge:0 port:1 vale0:vi1\n");
    const again = await run(["vale-ctl", "-a", "vale0:vi0"], env).done;
    assert.equal(again.code, 1);
    assert.match(again.err, /vi0: already attached as vale0:vi0/);

    const N = 100_000;
    let rxOut = "";
    const rx = run(["pkt-gen", "-i", "netmap:vi1", "-f", "rxseq", "-W", "-T", "300"], env);
    rx.child.stdout?.on("data", (c: string) => {
      rxOut += c;
    });
    await waitFor(() => rxOut.includes("Receiving from netmap:vi1"), "the receiver to bind");
    const tx = await run(["pkt-gen", "-i", "vale0:vi0", "-f", "txseq", "-n", String(N), "-R", "1000000"], env)
      .done;
    const r = await rx.done;
    assert.equal(tx.code, 0, tx.err);
    assert.equal(r.code, 0, r.err);
    assert.match(
      tx.out,
      new RegExp(`^Sent ${N} packets 6000000 bytes \\d+ events 60 bytes each in [\\d.]+ seconds\\.$`, "m"),
    );
    const got = Number(/^Received (\d+) packets/m.exec(r.out)?.[1]);
    assert.ok(got > 0, r.out);
    assert.doesNotMatch(r.out, /OUT OF ORDER/);
    const info = await run(["vale-ctl", "-g", "vi1"], env).done;
    const drops = Number(/rxDrops (\d+)/.exec(info.out)?.[1]);
    assert.equal(got + drops, N, `received ${got} + dropped ${drops}: ${info.out}`);
    // The receiver's own last line says the same, so an ephemeral port loses nothing.
    assert.match(
      r.out,
      new RegExp(`^Dropped ${drops} packets on the way to netmap:vi1 \\(its RX ring was full\\)$`, "m"),
    );
  } finally {
    daemon.child.kill("SIGTERM");
    const d = await daemon.done;
    rmSync(dir, { recursive: true, force: true });
    assert.match(d.err, /netmapd: SIGTERM, shutting down/);
  }
});

test("pvnet pkt-gen without a netmapd runs in-process; with --socket it insists on one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-netmapd-cli-"));
  const env = { PVNET_NETMAPD_SOCKET: join(dir, "absent.sock") };
  try {
    const local = await run(
      ["pkt-gen", "-i", "vale0:b", "-f", "rx", "-n", "1000", "++", "-i", "vale0:a", "-f", "tx", "-n", "1000"],
      env,
    ).done;
    assert.equal(local.code, 0, local.err);
    assert.match(local.out, /^\[1\] Sent 1000 packets/m);
    assert.match(local.out, /^\[0\] Received 1000 packets/m);
    const insist = await run(
      ["pkt-gen", "--socket", join(dir, "absent.sock"), "-i", "vale0:a", "-f", "tx"],
      {},
    ).done;
    assert.equal(insist.code, 1);
    assert.match(insist.err, /^pvnet pkt-gen: no netmapd at .*absent\.sock \(no socket there/);
    const ctl = await run(["vale-ctl", "-l"], env).done;
    assert.equal(ctl.code, 1);
    assert.match(ctl.err, /^pvnet vale-ctl: no netmapd at/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
