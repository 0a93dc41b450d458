/**
 * pvnet's own tools find a running host with no options, as a user runs them: `pvnet up`
 * in one process; vale-ctl, pkt-gen and xenstore each in their own, with nothing but the
 * run directory in common. With no host, each says so (or falls back, saying so).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { controlRequest } from "../../src/cli/control-client.js";
import { Netmapd } from "../../src/netmapd/daemon.js";
import { NetmapdServer } from "../../src/netmapd/server.js";
import { pvnetRun, type Run, UpProcess, until } from "./running-host.js";

const host = new UpProcess("pvnet-find-");
// Only the run directory points the tools at the host: nothing else may.
for (const k of ["PVNET_NETMAPD_SOCKET", "XENSTORED_PATH"]) delete host.env[k];
// No C xenstored may answer in libxenstore's place during the test.
host.env.XENSTORED_RUNDIR = join(host.dir, "no-c-xenstored");
const { env, sock, dir } = host;

const GUEST1_MAC = "00:16:3e:00:01:00";

function pvnet(args: readonly string[], e: NodeJS.ProcessEnv = env): Promise<Run> {
  return pvnetRun(args, e);
}

/** netback's packets toward guest1 (tx_*: Domain-0's view, as Linux's vif1.0). */
async function toGuest1(): Promise<number> {
  const r = await controlRequest(sock, { op: "top" });
  const vif = (r.vifs as { name: string; counters: Record<string, number> }[]).find(
    (v) => v.name === "vif1.0",
  );
  assert.ok(vif !== undefined, "vif1.0 in the host's status");
  return vif.counters.tx_packets!;
}

before(() => host.start());
after(async () => {
  try {
    await host.stop();
  } finally {
    host.remove();
  }
});

test("up says where its switches answer", () => {
  assert.match(host.out, new RegExp(`pvnet up: switches at ${join(dir, "netmapd.sock")} `));
});

test("vale-ctl -l with no options lists the host's vif ports; -n/-a/-d/-r act on its bridge", async () => {
  const l = await pvnet(["vale-ctl", "-l"]);
  assert.equal(l.code, 0, l.err);
  assert.equal(l.err, "");
  // Ports are numbered in the order the vifs' hotplug attached them, as on a Xen host; the
  // guests boot in parallel, so either order is right.
  const ports = l.out.split("\n").filter(Boolean);
  assert.equal(ports.length, 2, l.out);
  assert.deepEqual(ports.map((p) => p.replace(/port:\d /, "")).sort(), [
    "bridge:0 vif1.0",
    "bridge:0 vif2.0",
  ]);
  assert.deepEqual(ports.map((p) => /port:(\d) /.exec(p)?.[1]).sort(), ["0", "1"]);

  for (const args of [
    ["-n", "vi0"],
    ["-a", "vale0:vi0"],
  ]) {
    const r = await pvnet(["vale-ctl", ...args]);
    assert.equal(r.code, 0, `vale-ctl ${args.join(" ")}: ${r.err}`);
  }
  const on = await pvnet(["vale-ctl"]);
  assert.match(on.out, /^bridge:0 port:2 vale0:vi0$/m);
  const g = await pvnet(["vale-ctl", "-g", "vi0"]);
  assert.match(g.out, /^vale0:vi0: txPackets 0 /m);
  for (const args of [
    ["-d", "vale0:vi0"],
    ["-r", "vi0"],
  ]) {
    const r = await pvnet(["vale-ctl", ...args]);
    assert.equal(r.code, 0, `vale-ctl ${args.join(" ")}: ${r.err}`);
  }
  const off = await pvnet(["vale-ctl", "-l"]);
  assert.doesNotMatch(off.out, /vi0/);
  // The host's bridge stays when its last tool port leaves, and the vifs with it.
  assert.match(off.out, /^bridge:0 port:[01] vif1\.0$/m);
  const gone = await pvnet(["vale-ctl", "-g", "vi0"]);
  assert.equal(gone.code, 1);
  assert.equal(gone.err, "pvnet vale-ctl: vi0: no such interface\n");
});

test("pkt-gen -f ping from another shell pings guest1 through the host's switch (only -s and -d given)", async () => {
  const r = await pvnet([
    "pkt-gen",
    "-i",
    "vale0:probe",
    "-f",
    "ping",
    "-s",
    "10.0.0.99",
    "-d",
    "10.0.0.1:7",
    "-n",
    "3",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "", "ran in the host, not in-process");
  assert.match(r.out, /^Sending on vale0:probe/m);
  assert.match(r.out, /^RTT over [1-3] packets: min \d+ av \d+ p50 \d+ p99 \d+ ns$/m);
  assert.match(r.out, /^Sent 3 packets/m);
  // The probe port left the bridge with its job.
  const l = await pvnet(["vale-ctl", "-l"]);
  assert.doesNotMatch(l.out, /probe/);
});

test("pkt-gen -f tx to guest1's MAC is counted by vif1.0", async () => {
  const n = 500;
  const before = await toGuest1();
  const r = await pvnet([
    "pkt-gen",
    "-i",
    "vale0:gen",
    "-f",
    "tx",
    "-D",
    GUEST1_MAC,
    "-d",
    "10.0.0.1:9",
    "-n",
    String(n),
    "-R",
    "20000",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^Sent ${n} packets`, "m"));
  // Domain-0 copies counters every 250 ms; guest1's own pings add to them, never subtract.
  await until(`vif1.0 passing ${n} more packets to guest1`, async () => (await toGuest1()) >= before + n);
});

test("xenstore ls and read with no options read the running host's tree", async () => {
  const read = await pvnet(["xenstore", "read", "/local/domain/1/name"]);
  assert.equal(read.code, 0, read.err);
  assert.equal(read.out, "guest1\n");
  const ls = await pvnet(["xenstore", "ls", "/local/domain/0/backend/vif/1/0"]);
  assert.equal(ls.code, 0, ls.err);
  assert.match(ls.out, /^mac = "00:16:3e:00:01:00"$/m);
  assert.match(ls.out, /^bridge = "vale0"$/m);
});

test("with no host running: vale-ctl and xenstore say so in one line, pkt-gen falls back saying so", async () => {
  const empty = mkdtempSync(join(tmpdir(), "pvnet-find-none-"));
  try {
    const none = { ...env, PVNET_RUNDIR: empty, XENSTORED_RUNDIR: join(empty, "xs") };
    const v = await pvnet(["vale-ctl", "-l"], none);
    assert.equal(v.code, 1);
    assert.equal(
      v.err,
      `pvnet vale-ctl: no netmapd at ${empty}/netmapd.sock (no socket there; start one with pvnet netmapd, or a host with pvnet up)\n`,
    );
    const x = await pvnet(["xenstore", "ls", "/"], none);
    assert.equal(x.code, 1);
    assert.equal(
      x.err,
      `pvnet xenstore ls: no xenstored at ${empty}/xs/socket (no socket there; no pvnet host is running either (none at ${empty}/xenstored.sock); start one with pvnet up or pvnet xenstored, or give --socket PATH)\n`,
    );
    const p = await pvnet(["pkt-gen", "-i", "vale0:a", "-f", "tx", "-n", "10"], none);
    assert.equal(p.code, 0, p.err);
    assert.equal(
      p.err,
      `pvnet pkt-gen: no netmapd or pvnet host at ${empty}/netmapd.sock: running in-process (instances meet only with ++)\n`,
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("a standalone netmapd on the socket: up says so in one line, boots, and the tools reach that netmapd", async () => {
  const other = new UpProcess("pvnet-find-busy-");
  for (const k of ["PVNET_NETMAPD_SOCKET", "XENSTORED_PATH"]) delete other.env[k];
  const path = join(other.dir, "netmapd.sock");
  const d = new Netmapd();
  const server = await NetmapdServer.listen(d, path);
  try {
    await other.start();
    assert.match(
      other.out,
      new RegExp(
        `^pvnet up: a netmapd already listens at ${path}: pvnet vale-ctl and pkt-gen reach it, not this host's switches$`,
        "m",
      ),
    );
    const l = await pvnet(["vale-ctl", "-l"], other.env);
    assert.equal(l.code, 0, l.err);
    assert.equal(l.out, "", "the standalone netmapd has no vif ports");
    assert.ok(await other.stop(), "the host kept running");
  } finally {
    await other.stop().catch(() => false);
    await server.close();
    await d.close();
    other.remove();
  }
});
