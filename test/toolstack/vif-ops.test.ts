/**
 * Hot-plugging against a booted host (Host.attachVif / detachVif), the guest's UDP echo
 * (Host.udpListen / udpEcho) and the vif hotplug script: a vif added to a running guest
 * connects and carries its traffic; taken away, every Domain-0 count is back to its
 * baseline and the guest has lost the address; a script runs with Xen's environment and
 * online/offline, and a failing one leaves hotplug-status=error with its message and a
 * backend that never connects.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Machine } from "../../src/hv/machine.js";
import { defaultHostConfig } from "../../src/toolstack/config.js";
import type { DomainConfig } from "../../src/toolstack/config-types.js";
import { Host } from "../../src/toolstack/host.js";
import type { Dom0Resources } from "../../src/toolstack/host-proto.js";
import { VifOps, type VifOpsHost } from "../../src/toolstack/vif-ops.js";
import { parseIpv4 } from "../../src/wire/net/ipv4.js";
import { XsClient } from "../../src/xenstore/client.js";
import { untilStaged } from "./staged.js";

const config = defaultHostConfig();
const [dom0, guest1, guest2] = config.domains as [DomainConfig, DomainConfig, DomainConfig];
const dir = mkdtempSync(join(tmpdir(), `pvnet-vifops-${process.pid}-`));
const socketPath = join(dir, "xs.sock");
const okScript = join(dir, "ok.sh");
const badScript = join(dir, "bad.sh");
const envFile = join(dir, "env.txt");
let host: Host;
let baseline: Dom0Resources;
const logs: string[] = [];

const ip = (s: string): number => parseIpv4(s) as number;

async function until(what: string, ms: number, ok: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function backToBaseline(what: string): Promise<void> {
  let last: Dom0Resources | undefined;
  try {
    await until(`${what}: resources back to baseline`, 5000, async () => {
      last = await host.resources();
      return JSON.stringify(last) === JSON.stringify(baseline);
    });
  } catch {
    assert.deepEqual(last, baseline, what);
  }
}

async function xsRead(path: string): Promise<string | null> {
  const c = await XsClient.connect(socketPath);
  try {
    return await c.read(path).catch(() => null);
  } finally {
    c.close();
  }
}

before(async () => {
  writeFileSync(
    okScript,
    `#!/bin/sh\necho "$1 script=$script XENBUS_PATH=$XENBUS_PATH XENBUS_TYPE=$XENBUS_TYPE vif=$vif" >> ${envFile}\nexit 0\n`,
  );
  writeFileSync(
    badScript,
    `#!/bin/sh\necho starting >&2\necho "vif-bad: $vif: cannot reach the firewall" >&2\nexit 3\n`,
  );
  chmodSync(okScript, 0o755);
  chmodSync(badScript, 0o755);
  host = await Host.boot(config, {
    socketPath,
    ping: { count: 0, intervalMs: 200, timeoutMs: 500 },
    statusMs: 20,
  });
  await untilStaged(host);
  baseline = await host.resources();
});

after(async () => {
  await host?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test("attachVif: a second vif in guest1 connects and carries its own address; detachVif takes it all away", {
  timeout: 60_000,
}, async () => {
  const a = await host.attachVif(guest1.name, { ip: "10.0.0.11/24" });
  assert.equal(a.vif, "vif1.1");
  assert.equal(a.devid, 1);
  assert.equal(a.ip, "10.0.0.11/24");
  assert.match(a.mac, /^00:16:3e:/);
  const v = host.status().vifs.find((x) => x.name === "vif1.1");
  assert.equal(v?.frontend.stateName, "Connected");
  assert.equal(v?.backend.stateName, "Connected");
  assert.equal((await host.resources()).valePorts, baseline.valePorts + 1);
  // Only guest1's new vif holds .11: guest2's echo is answered over it.
  const r = await host.ping(guest2.name, ip("10.0.0.11"), 2000);
  assert.equal(r.ok, true, r.reason);
  assert.equal(await xsRead("/local/domain/0/backend/vif/1/1/state"), "4");

  const d = await host.detachVif(guest1.name, a.mac);
  assert.equal(d.vif, "vif1.1");
  assert.equal(d.closed, true, "the backend reached Closed before the directories went");
  for (const p of [
    "/local/domain/0/backend/vif/1/1",
    "/local/domain/1/device/vif/1",
    "/libxl/1/device/vif/1",
  ])
    assert.equal(await xsRead(p), null, `${p} removed`);
  assert.equal(await xsRead("/local/domain/0/backend/vif/1/0/state"), "4", "vif1.0 stays");
  assert.equal(host.status().vifs.filter((x) => x.domid === 1).length, 1);
  await backToBaseline("after detach");
  const gone = await host.ping(guest2.name, ip("10.0.0.11"), 500);
  assert.equal(gone.ok, false, "nobody has 10.0.0.11 any more");
  const still = await host.ping(guest2.name, ip("10.0.0.1"), 2000);
  assert.equal(still.ok, true, "guest1's first vif still answers");
});

test("attach then detach five times by devid: nothing grows", { timeout: 120_000 }, async () => {
  for (let i = 0; i < 5; i++) {
    const a = await host.attachVif(guest2.name, { ip: `10.0.0.${20 + i}/24` });
    await host.detachVif(guest2.name, a.devid);
    await backToBaseline(`life ${i}`);
  }
});

test("the same devid re-attached at once, ten times, each answering a ping: detach returns once the guest let go", {
  timeout: 120_000,
}, async () => {
  for (let i = 0; i < 10; i++) {
    const a = await host.attachVif(guest1.name, { ip: `10.0.0.${40 + i}/24` });
    assert.equal(a.devid, 1);
    const r = await host.ping(guest2.name, ip(`10.0.0.${40 + i}`), 2000);
    assert.equal(r.ok, true, `round ${i}: ${r.reason}`);
    await host.detachVif(guest1.name, 1);
  }
  await backToBaseline("after ten re-attaches");
  assert.deepEqual(
    logs.filter((l) => /vif\/1|vif1\.1/.test(l)),
    [],
    "no complaint about the detached vif",
  );
});

test("three attaches at once get three devids; three detaches at once take them all", {
  timeout: 60_000,
}, async () => {
  const all = await Promise.all(
    [0, 1, 2].map((i) => host.attachVif(guest2.name, { ip: `10.0.0.${60 + i}/24` })),
  );
  assert.deepEqual(all.map((a) => a.devid).sort(), [1, 2, 3]);
  await Promise.all(all.map((a) => host.detachVif(guest2.name, a.devid)));
  await backToBaseline("after concurrent attaches");
});

test("attachVif and detachVif refuse what is wrong, in one line each", async () => {
  for (const [spec, re] of [
    [{ bridge: "vale9" }, /no bridge named vale9/],
    [{ ip: "10.0.0.2/24" }, /10\.0\.0\.2 is vif2\.0's/],
    [{ ip: "192.168.1.1/24" }, /not in vale0's subnet/],
    [{ mac: "01:00:00:00:00:01" }, /not a unicast MAC/],
    [{ mac: guest2.vifs[0]!.mac }, /is vif2\.0's/],
    [{ script: "relative.sh" }, /absolute path/],
  ] as const)
    await assert.rejects(host.attachVif(guest1.name, spec), re);
  await assert.rejects(host.attachVif("nobody", {}), /no domain named nobody/);
  await assert.rejects(host.attachVif(dom0.name, {}), /Domain-0/);
  await assert.rejects(host.detachVif(guest1.name, 7), /guest1 has no vif 7/);
  await backToBaseline("after refusals");
});

test("udpListen and udpEcho: an echo server on a port of guest1, a datagram from guest2 and its round trip", {
  timeout: 30_000,
}, async () => {
  const l = await host.udpListen(guest1.name, 9000);
  assert.deepEqual(l.addresses, ["10.0.0.1"]);
  await assert.rejects(host.udpListen(guest1.name, 9000), /in use/);
  const r = await host.udpEcho(guest2.name, ip("10.0.0.1"), 9000, 100, 2000);
  assert.equal(r.ok, true, r.reason);
  assert.equal(r.from, "10.0.0.2");
  assert.equal(r.bytes, 100);
  assert.ok(typeof r.rttMs === "number" && r.rttMs > 0);
  const none = await host.udpEcho(guest2.name, ip("10.0.0.1"), 9001, 10, 300);
  assert.equal(none.ok, false);
  assert.equal(none.reason, "timeout");
});

test("a vif's script: run online with Xen's environment, offline when detached; hotplug-status connected", {
  timeout: 60_000,
}, async () => {
  const a = await host.attachVif(guest1.name, { ip: "10.0.0.12/24", script: okScript });
  const be = `/local/domain/0/backend/vif/1/${a.devid}`;
  assert.equal(await xsRead(`${be}/script`), okScript);
  assert.equal(await xsRead(`${be}/hotplug-status`), "connected");
  const r = await host.ping(guest2.name, ip("10.0.0.12"), 2000);
  assert.equal(r.ok, true, "pvnet's own bridge attach follows a script that exits 0");
  await host.detachVif(guest1.name, a.devid);
  const lines = readFileSync(envFile, "utf8").trimEnd().split("\n");
  const tail = `script=${okScript} XENBUS_PATH=backend/vif/1/${a.devid} XENBUS_TYPE=vif vif=vif1.${a.devid}`;
  assert.deepEqual(lines, [`online ${tail}`, `offline ${tail}`]);
  await backToBaseline("after the scripted vif");
});

test("a failing script: attach fails with its stderr's last line and the vif is removed", {
  timeout: 60_000,
}, async () => {
  await assert.rejects(
    host.attachVif(guest1.name, { script: badScript }),
    /vif1\.\d+: hotplug failed: vif-bad: vif1\.\d+: cannot reach the firewall; removed it/,
  );
  assert.equal(host.status().vifs.filter((x) => x.domid === 1).length, 1);
  await backToBaseline("after the failed script");
});

test("a failing script at boot: hotplug-status error, hotplug-error its message, the backend never Connected", {
  timeout: 60_000,
}, async () => {
  const sock2 = join(dir, "xs2.sock");
  const g = { ...guest1, vifs: [{ ...guest1.vifs[0]!, script: badScript }] };
  const h = await Host.boot(
    { ...config, domains: [dom0, g] },
    { socketPath: sock2, connectTimeoutMs: 0, statusMs: 20 },
  );
  try {
    const c = await XsClient.connect(sock2);
    try {
      const be = "/local/domain/0/backend/vif/1/0";
      await until(
        "hotplug-status error",
        10_000,
        async () => (await c.read(`${be}/hotplug-status`).catch(() => "")) === "error",
      );
      assert.equal(await c.read(`${be}/hotplug-error`), "vif-bad: vif1.0: cannot reach the firewall");
      // The frontend may have connected its side; netback holds back, as Linux's does.
      await new Promise((r) => setTimeout(r, 500));
      assert.notEqual(await c.read(`${be}/state`), "4");
      assert.equal(h.status().vifs[0]?.hotplug, "error");
    } finally {
      c.close();
    }
  } finally {
    await h.shutdown();
  }
});

test("Host.boot with a failing script fails with the script's message", { timeout: 60_000 }, async () => {
  const g = { ...guest1, vifs: [{ ...guest1.vifs[0]!, script: badScript }] };
  await assert.rejects(
    Host.boot({ ...config, domains: [dom0, g] }, { socketPath: null, statusMs: 20 }),
    /vif1\.0: hotplug failed: vif-bad: vif1\.0: cannot reach the firewall \(frontend /,
  );
});

test("only the domain asked may answer: another guest's or Domain-0's udp-result for the same id is ignored", async () => {
  const posted: [number, { id: number }][] = [];
  const machine = { post: (d: number, m: { id: number }) => posted.push([d, m]) } as unknown as Machine;
  const ops = new VifOps(machine, null, () => {});
  const h = { guest: () => ({ domid: 2, name: "g" }) } as unknown as VifOpsHost;
  const p = ops.udpEcho(h, "g", ip("10.0.0.1"), 7, 10, 1000);
  const id = posted[0]![1].id;
  assert.equal(posted[0]![0], 2);
  const forged = { t: "udp-result", id, ok: true, from: "10.0.0.9", rttMs: 0.001, bytes: 10 };
  assert.equal(ops.onReport(3, forged), true, "taken, and dropped");
  assert.equal(ops.onReport(0, forged), true, "taken, and dropped");
  assert.equal(
    ops.onReport(2, { t: "udp-result", id, ok: false, from: "10.0.0.2", reason: "timeout" }),
    true,
  );
  assert.deepEqual(await p, {
    from: "10.0.0.2",
    ok: false,
    rttMs: undefined,
    bytes: undefined,
    reason: "timeout",
  });
});
