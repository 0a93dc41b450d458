import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { PvnetError } from "../../src/base/errors.js";
import { ALL_VIF_FEATURES, type VifConfig } from "../../src/toolstack/config-types.js";
import { hotplugConnect, removeVifDevice, writeVifDevice } from "../../src/toolstack/vif-device.js";
import { XsClient, type XsOps } from "../../src/xenstore/client.js";
import { Xenstored } from "../../src/xenstore/daemon.js";
import { loopbackTransport } from "../../src/xenstore/transport/loopback.js";
import { XsSocketServer } from "../../src/xenstore/transport/socket.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "pvnet-vifdev-"));
let xsd: Xenstored;
let server: XsSocketServer;
let dom0: XsClient;
let dom0b: XsClient;
let guest1: XsClient;

function vif(n: number): VifConfig {
  return {
    devid: 0,
    mac: `00:16:3e:00:00:0${n}`,
    ip: { address: `10.0.0.${n}`, prefix: 24, value: 0x0a000000 + n, network: "10.0.0.0" },
    bridge: "vale0",
    queues: 1,
    ringPageOrder: 0,
    trusted: true,
    features: ALL_VIF_FEATURES,
  };
}

async function makeHome(domid: number): Promise<void> {
  await dom0.mkdir(`/local/domain/${domid}`);
  await dom0.setPerms(`/local/domain/${domid}`, [
    { letter: "n", domid },
    { letter: "r", domid: 0 },
  ]);
}

/** Every node below `root` as `path = "value" (perms)`, sorted, like `xenstore-ls -fp`. */
async function dump(c: XsOps, root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const perms = (await c.getPerms(p)).map((x) => `${x.letter}${x.domid}`).join(",");
    out.push(`${p} = "${await c.read(p)}" (${perms})`);
    for (const child of await c.directory(p)) await walk(`${p}/${child}`);
  };
  await walk(root);
  return out.sort();
}

before(async () => {
  xsd = new Xenstored();
  server = await XsSocketServer.listen(xsd, join(dir, "xs.sock"), { log: () => {} });
  dom0 = await XsClient.connect(server.path);
  dom0b = await XsClient.connect(server.path);
  guest1 = new XsClient(loopbackTransport(xsd, { domid: 1, privileged: false }));
  await makeHome(1);
  await makeHome(2);
});
after(async () => {
  guest1.close();
  dom0.close();
  dom0b.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const FE = "/local/domain/1/device/vif/0";
const BE = "/local/domain/0/backend/vif/1/0";
const LX = "/libxl/1/device/vif/0";

const EXPECTED_FE = [
  `${FE} = "" (n1,r0)`,
  `${FE}/backend = "${BE}" (n1,r0)`,
  `${FE}/backend-id = "0" (n1,r0)`,
  `${FE}/handle = "0" (n1,r0)`,
  `${FE}/mac = "00:16:3e:00:00:01" (n1,r0)`,
  `${FE}/mtu = "1500" (n0,r1)`,
  `${FE}/state = "1" (n1,r0)`,
  `${FE}/trusted = "1" (n1,r0)`,
];
const BE_KEYS: [string, string][] = [
  ["bridge", "vale0"],
  ["frontend", FE],
  ["frontend-id", "1"],
  ["handle", "0"],
  ["hotplug-status", ""],
  ["ip", "10.0.0.1"],
  ["mac", "00:16:3e:00:00:01"],
  ["online", "1"],
  ["script", "/etc/xen/scripts/vif-bridge"],
  ["state", "1"],
  ["type", "vif"],
];
const EXPECTED_BE = [`${BE} = "" (n0,r1)`, ...BE_KEYS.map(([k, v]) => `${BE}/${k} = "${v}" (n0,r1)`)];
const EXPECTED_LX = [
  `${LX} = "" (n0)`,
  ...[...BE_KEYS, ["backend", BE] as [string, string]].map(([k, v]) => `${LX}/${k} = "${v}" (n0)`),
].sort();

test("writeVifDevice writes exactly libxl's frontend, backend and bookkeeping keys with their perms", async () => {
  const paths = await writeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0, vif: vif(1) });
  assert.deepEqual(paths, { frontend: FE, backend: BE, libxl: LX });
  assert.deepEqual(await dump(dom0, FE), EXPECTED_FE);
  assert.deepEqual(await dump(dom0, BE), EXPECTED_BE);
  assert.deepEqual(await dump(dom0, LX), EXPECTED_LX);
});

test("a non-default mtu goes to the backend too, an absent ip is not written, trusted=false is 0", async () => {
  const v = { ...vif(1), ip: undefined };
  await writeVifDevice(dom0, {
    feDomid: 1,
    beDomid: 0,
    devid: 3,
    vif: v,
    mtu: 9000,
    trusted: false,
    script: "/x/s",
  });
  const be = "/local/domain/0/backend/vif/1/3";
  const fe = "/local/domain/1/device/vif/3";
  assert.equal(await dom0.read(`${be}/mtu`), "9000");
  assert.equal(await dom0.read(`${fe}/mtu`), "9000");
  assert.equal(await dom0.read(`${fe}/trusted`), "0");
  assert.equal(await dom0.read(`${be}/script`), "/x/s");
  assert.equal(await dom0.exists(`${be}/ip`), false);
  await removeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 3 });
});

test("the guest reads both dirs, writes its own state, but not the backend dir nor its mtu", async () => {
  await writeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0, vif: vif(1) });
  assert.equal(await guest1.read(`${FE}/mac`), "00:16:3e:00:00:01");
  assert.equal(await guest1.read(`${BE}/script`), "/etc/xen/scripts/vif-bridge");
  assert.deepEqual((await guest1.directory(BE)).sort(), BE_KEYS.map(([k]) => k).sort());
  await guest1.write(`${FE}/state`, "4");
  assert.equal(await dom0.read(`${FE}/state`), "4");
  const eacces = (e: unknown): boolean => e instanceof PvnetError && e.code === "EACCES";
  await assert.rejects(guest1.write(`${BE}/state`, "4"), eacces);
  await assert.rejects(guest1.write(`${BE}/hotplug-status`, "connected"), eacces);
  await assert.rejects(guest1.write(`${BE}/new-key`, "x"), eacces);
  await assert.rejects(guest1.write(`${FE}/mtu`, "65535"), eacces);
  await assert.rejects(guest1.read(LX), eacces);
});

test("vifs of two guests written concurrently both land, and a conflicting commit is retried", async () => {
  // A dom0 client whose first commit is disturbed by a write to the same backend dir.
  let attempts = 0;
  const disturbed = new Proxy(dom0, {
    get(target, prop, recv) {
      if (prop !== "transaction") return Reflect.get(target, prop, recv);
      return (fn: (tx: XsOps) => Promise<unknown>) =>
        target.transaction(async (tx) => {
          const r = await fn(tx);
          if (attempts++ === 0) await dom0b.write("/local/domain/0/backend/vif/2/0/state", "6");
          return r;
        });
    },
  });
  await Promise.all([
    writeVifDevice(disturbed, { feDomid: 2, beDomid: 0, devid: 0, vif: vif(2) }),
    writeVifDevice(dom0b, { feDomid: 1, beDomid: 0, devid: 0, vif: vif(1) }),
  ]);
  assert.equal(attempts, 2, "the disturbed transaction was retried once");
  assert.deepEqual(await dump(dom0, FE), EXPECTED_FE);
  assert.deepEqual(await dump(dom0, BE), EXPECTED_BE);
  const be2 = "/local/domain/0/backend/vif/2/0";
  assert.equal(await dom0.read(`${be2}/state`), "1", "the retry rewrote the disturbed node");
  assert.equal(await dom0.read(`${be2}/frontend`), "/local/domain/2/device/vif/0");
  assert.equal((await dom0.getPerms(`${be2}/mac`)).map((p) => `${p.letter}${p.domid}`).join(","), "n0,r2");
  assert.equal(await dom0.read("/local/domain/2/device/vif/0/mac"), "00:16:3e:00:00:02");
  await removeVifDevice(dom0, { feDomid: 2, beDomid: 0, devid: 0 });
});

test("hotplugConnect writes hotplug-status, returns the bridge, and never resurrects a removed vif", async () => {
  await writeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0, vif: vif(1) });
  assert.equal(await hotplugConnect(dom0, BE, "connected"), "vale0");
  assert.equal(await dom0.read(`${BE}/hotplug-status`), "connected");
  assert.equal((await dom0.getPerms(`${BE}/hotplug-status`)).length, 2, "perms kept");
  assert.equal(await hotplugConnect(dom0, BE, "error"), "vale0");
  assert.equal(await dom0.read(`${BE}/hotplug-status`), "error");
  await removeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0 });
  await assert.rejects(
    hotplugConnect(dom0, BE, "connected"),
    (e) => e instanceof PvnetError && e.code === "ENOENT",
  );
  assert.equal(await dom0.exists(BE), false);
});

test("removeVifDevice sets online=0 and Closing, waits for Closed, then removes all three dirs", async () => {
  await writeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0, vif: vif(1) });
  const w = await dom0b.watch(`${BE}/state`);
  const seen: string[] = [];
  // A backend playing its part: on Closing it records online and moves to Closed.
  const backend = (async () => {
    for await (const _ev of w) {
      const s = await dom0b.read(`${BE}/state`).catch(() => "gone");
      if (s === "5") {
        seen.push(`online=${await dom0b.read(`${BE}/online`)}`);
        await dom0b.write(`${BE}/state`, "6");
        return;
      }
    }
  })();
  assert.equal(
    await removeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0 }, { closedTimeoutMs: 2000 }),
    true,
  );
  await backend;
  await w.close();
  assert.deepEqual(seen, ["online=0"]);
  for (const p of [FE, BE, LX]) assert.equal(await dom0.exists(p), false, p);
  assert.equal(await dom0.exists("/local/domain/0/backend/vif/1"), true, "only the device dir goes");
});

test("removeVifDevice removes forcibly when the backend never closes, and is quiet on an absent vif", async () => {
  await writeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0, vif: vif(1) });
  assert.equal(
    await removeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0 }, { closedTimeoutMs: 30 }),
    false,
  );
  for (const p of [FE, BE, LX]) assert.equal(await dom0.exists(p), false, p);
  assert.equal(await removeVifDevice(dom0, { feDomid: 7, beDomid: 0, devid: 9 }), true);
});

test("writeVifDevice refuses ids that are no domain", async () => {
  const bad = (e: unknown): boolean => e instanceof PvnetError && e.code === "EINVAL";
  await assert.rejects(writeVifDevice(dom0, { feDomid: -1, beDomid: 0, devid: 0, vif: vif(1) }), bad);
  await assert.rejects(writeVifDevice(dom0, { feDomid: 0x7ff0, beDomid: 0, devid: 0, vif: vif(1) }), bad);
  await assert.rejects(writeVifDevice(dom0, { feDomid: 0, beDomid: 0, devid: 0, vif: vif(1) }), bad);
});

const XENSTORE_LS = ["/usr/bin/xenstore-ls", "/usr/sbin/xenstore-ls"].find((p) => existsSync(p));

test("Debian's xenstore-ls -p shows the vif keys with libxl's perms", {
  skip: XENSTORE_LS === undefined ? "xenstore-ls not installed (apt-get install xenstore-utils)" : false,
}, async () => {
  await writeVifDevice(dom0, { feDomid: 1, beDomid: 0, devid: 0, vif: vif(1) });
  const ls = async (root: string): Promise<string[]> => {
    const { stdout } = await run(XENSTORE_LS!, ["-p", root], {
      env: { ...process.env, XENSTORED_PATH: server.path },
      timeout: 5000,
    });
    // Lines are `key = "value"  . . . (perms)`; the dots pad to a column.
    return stdout
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => {
        const m = /^(\S+) = "(.*)"[ .]*\((\S+)\)$/.exec(l);
        assert.ok(m !== null, `unexpected xenstore-ls line: ${l}`);
        return `${root}/${m[1]} = "${m[2]}" (${m[3]})`;
      })
      .sort();
  };
  assert.deepEqual(await ls(FE), EXPECTED_FE.slice(1));
  assert.deepEqual(await ls(BE), EXPECTED_BE.slice(1));
});
