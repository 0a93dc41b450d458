/**
 * The two daemons and their clients as real processes: a second daemon does not take a
 * live daemon's socket, a crashed daemon's stale socket is replaced, the socket's
 * directory is created, pkt-gen says when it falls back to running in-process, and a
 * client whose daemon goes away says so and exits 1.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr?.setEncoding("utf8").on("data", (c: string) => (err += c));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>(
    (resolve) => child.on("close", (code, signal) => resolve({ code, signal, out, err })),
  );
  return { child, out: () => out, err: () => err, done };
}

async function waitFor(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "pvnet-daemons-"));
}

test("netmapd: a live socket is refused, a stale one replaced; pkt-gen says where it runs; clients see the daemon go", async () => {
  const dir = tmp();
  // The directory does not exist yet: netmapd makes it.
  const sock = join(dir, "run", "sub", "netmapd.sock");
  const env = { PVNET_NETMAPD_SOCKET: sock };
  const procs: Proc[] = [];
  try {
    const a = start(["netmapd"], env);
    procs.push(a);
    await waitFor(() => a.err().includes("listening on"), "the first netmapd");
    const b = await start(["netmapd", "--socket", sock]).done;
    assert.deepEqual([b.code, b.out, b.err], [1, "", `pvnet netmapd: already running at ${sock}\n`]);
    const list = await start(["vale-ctl", "-n", "vi0"], env).done;
    assert.equal(list.code, 0, `the first netmapd still answers: ${list.err}`);
    assert.match(a.err(), /^netmapd: client \d+: vale-ctl -n vi0: ok$/m, "netmapd logs the request");

    // A crash leaves the socket behind; its client is told, with status 1.
    const rx = start(["pkt-gen", "-i", "vale0:r", "-f", "rx"], env);
    procs.push(rx);
    await waitFor(() => rx.out().includes("Receiving from"), "the receiver");
    a.child.kill("SIGKILL");
    const gone = await rx.done;
    assert.equal(gone.code, 1);
    assert.match(gone.err, /^pvnet pkt-gen: netmapd at .* went away/m);
    assert.ok(existsSync(sock), "the stale socket is still there");

    // No daemon behind the socket: pkt-gen says so and runs its instances here.
    const local = await start(
      ["pkt-gen", "-i", "vale0:b", "-f", "rx", "-n", "1000", "++", "-i", "vale0:a", "-f", "tx", "-n", "1000"],
      env,
    ).done;
    assert.equal(local.code, 0, local.err);
    assert.equal(
      local.err,
      `pvnet pkt-gen: no netmapd or pvnet host at ${sock}: running in-process (instances meet only with ++)\n`,
    );
    assert.match(local.out, /^\[0\] Received 1000 packets/m);

    const c = start(["netmapd", "--quiet"], env);
    procs.push(c);
    await waitFor(() => c.err().includes("listening on"), "a netmapd on the stale socket");
    const rx2 = start(["pkt-gen", "-i", "vale0:r", "-f", "rx"], env);
    procs.push(rx2);
    await waitFor(() => rx2.out().includes("Receiving from"), "the second receiver");
    c.child.kill("SIGTERM");
    const stopped = await rx2.done;
    assert.equal(stopped.code, 1, "a job cut short by the daemon's shutdown is not a success");
    assert.match(stopped.out, /^Received 0 packets/m, "the final lines still come");
    assert.match(stopped.err, /^pvnet pkt-gen: netmapd at .* shut down \(the job was stopped\)$/m);
    assert.doesNotMatch((await c.done).err, /client \d+:/, "--quiet logs no activity");
  } finally {
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.done));
    rmSync(dir, { recursive: true, force: true });
  }
});

test("xenstored: a live socket is refused, a stale one replaced; watch exits 1 when the daemon goes", async () => {
  const dir = tmp();
  const sock = join(dir, "xs", "socket");
  const procs: Proc[] = [];
  try {
    const a = start(["xenstored", "--socket", sock]);
    procs.push(a);
    await waitFor(() => a.err().includes("listening on"), "the first xenstored");
    const b = await start(["xenstored", "--socket", sock]).done;
    assert.deepEqual([b.code, b.out, b.err], [1, "", `pvnet xenstored: already running at ${sock}\n`]);
    const read = await start(["xenstore", "read", "--socket", sock, "/local/domain/0/name"]).done;
    assert.deepEqual([read.code, read.out], [0, "Domain-0\n"], read.err);

    const w = start(["xenstore", "watch", "--socket", sock, "/local"]);
    procs.push(w);
    await waitFor(() => w.out().includes("/local"), "the watch's first event");
    a.child.kill("SIGKILL");
    const gone = await w.done;
    assert.deepEqual([gone.code, gone.err], [1, "pvnet xenstore watch: the daemon closed the connection\n"]);

    const c = start(["xenstored", "--socket", sock]);
    procs.push(c);
    await waitFor(() => c.err().includes("listening on"), "a xenstored on the stale socket");
    c.child.kill("SIGTERM");
    const end = await c.done;
    assert.deepEqual([end.code, end.signal], [0, null], end.err);
    assert.match(end.err, /^xenstored: SIGTERM, shutting down$/m);
  } finally {
    for (const p of procs) p.child.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.done));
    rmSync(dir, { recursive: true, force: true });
  }
});
