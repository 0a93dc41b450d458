/**
 * `pvnet up`'s host, booted for real (a worker per domain) on the default config. These
 * hold with or without working drivers: the domains boot, Domain-0 serves xenstore on the
 * socket (Debian's xenstore-ls reads it), the toolstack's device tree is libxl's, the trace
 * is written, a live socket is refused, and shutdown removes the socket.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { PvnetError } from "../../src/base/errors.js";
import { defaultHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import { XsClient } from "../../src/xenstore/client.js";

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), "pvnet-host-"));
const socketPath = join(dir, "xs.sock");
const tracePath = join(dir, "trace");
let host: Host;
const logs: string[] = [];

before(async () => {
  host = await Host.boot(defaultHostConfig(), { socketPath, tracePath, log: (l) => logs.push(l) });
});
after(async () => {
  await host?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test("Domain-0 and both guests boot and run; each vif is listed with both ends' states", () => {
  const s = host.status();
  assert.deepEqual(
    s.domains.map((d) => [d.domid, d.name, d.state, d.privileged]),
    [
      [0, "Domain-0", "running", true],
      [1, "guest1", "running", false],
      [2, "guest2", "running", false],
    ],
  );
  assert.deepEqual(
    s.vifs.map((v) => [v.name, v.domid, v.devid, v.ip, v.bridge]),
    [
      ["vif1.0", 1, 0, "10.0.0.1/24", "vale0"],
      ["vif2.0", 2, 0, "10.0.0.2/24", "vale0"],
    ],
  );
  for (const v of s.vifs) {
    // Boot's promise: every vif Connected at both ends, hotplug done, when it resolves.
    assert.deepEqual(v.frontend, { state: 4, stateName: "Connected" }, JSON.stringify(v));
    assert.deepEqual(v.backend, { state: 4, stateName: "Connected" }, JSON.stringify(v));
    assert.equal(v.hotplug, "connected");
    assert.equal(typeof v.counters.tx_packets, "number");
  }
});

test("boot rejects, naming the vif and both ends' states, when a frontend never connects", async () => {
  const sock = join(dir, "idle.sock");
  const t0 = performance.now();
  await assert.rejects(
    Host.boot(defaultHostConfig(), {
      socketPath: sock,
      guestProgram: new URL("./programs/idle-guest.js", import.meta.url),
      connectTimeoutMs: 300,
    }),
    (e: unknown) =>
      e instanceof PvnetError &&
      e.code === "ETIMEDOUT" &&
      /^vif1\.0: not connected within 300 ms \(frontend Initialising\(1\), backend InitWait\(2\), hotplug (pending|connected)\)$/.test(
        e.message,
      ),
  );
  assert.ok(performance.now() - t0 < 5000);
  // What had started was torn down: the socket is gone.
  assert.equal(existsSync(sock), false);
});

/** Every node below `root` as [path, value, perms] through the socket. */
async function tree(c: XsClient, root: string): Promise<Map<string, [string, string]>> {
  const out = new Map<string, [string, string]>();
  const walk = async (p: string): Promise<void> => {
    const perms = (await c.getPerms(p)).map((x) => `${x.letter}${x.domid}`).join(",");
    out.set(p, [await c.read(p), perms]);
    for (const k of await c.directory(p)) await walk(`${p}/${k}`);
  };
  await walk(root);
  return out;
}

test("the toolstack's device tree is libxl's: keys and perms of frontend, backend and name", async () => {
  const c = await XsClient.connect(socketPath);
  try {
    for (const g of [1, 2]) {
      const fe = await tree(c, `/local/domain/${g}/device/vif/0`);
      const keys = (m: Map<string, [string, string]>, root: string) =>
        [...m.keys()].map((k) => k.slice(root.length + 1)).filter((k) => k !== "" && !k.includes("/"));
      const feRoot = `/local/domain/${g}/device/vif/0`;
      // The frontend's own keys may grow once netfront writes (ring refs, channels): check libxl's.
      for (const k of ["backend", "backend-id", "state", "handle", "mac", "mtu", "trusted"])
        assert.ok(keys(fe, feRoot).includes(k), `${feRoot}/${k} missing`);
      assert.deepEqual(fe.get(`${feRoot}/backend`), [`/local/domain/0/backend/vif/${g}/0`, `n${g},r0`]);
      assert.deepEqual(fe.get(`${feRoot}/mtu`), ["1500", `n0,r${g}`]);
      assert.deepEqual(fe.get(feRoot), ["", `n${g},r0`]);
      const beRoot = `/local/domain/0/backend/vif/${g}/0`;
      const be = await tree(c, beRoot);
      for (const k of [
        "frontend",
        "frontend-id",
        "online",
        "state",
        "script",
        "mac",
        "ip",
        "bridge",
        "handle",
        "type",
        "hotplug-status",
      ])
        assert.ok(keys(be, beRoot).includes(k), `${beRoot}/${k} missing`);
      assert.deepEqual(be.get(`${beRoot}/frontend`), [feRoot, `n0,r${g}`]);
      assert.deepEqual(be.get(`${beRoot}/script`), ["/etc/xen/scripts/vif-bridge", `n0,r${g}`]);
      assert.deepEqual(be.get(`${beRoot}/online`), ["1", `n0,r${g}`]);
      assert.deepEqual(await c.read(`/libxl/${g}/device/vif/0/backend`), beRoot);
      assert.equal(await c.read(`/local/domain/${g}/name`), `guest${g}`);
      assert.deepEqual(
        (await c.getPerms(`/local/domain/${g}/name`)).map((x) => `${x.letter}${x.domid}`),
        ["n0", `r${g}`],
      );
    }
  } finally {
    c.close();
  }
});

const XENSTORE_LS = ["/usr/bin/xenstore-ls", "/usr/sbin/xenstore-ls"].find((p) => existsSync(p));

test("Debian's xenstore-ls -p reads the whole tree through the socket", {
  skip: XENSTORE_LS === undefined ? "xenstore-ls not installed (apt-get install xenstore-utils)" : false,
}, async () => {
  const { stdout } = await run(XENSTORE_LS!, ["-p", "/local/domain"], {
    env: { ...process.env, XENSTORED_PATH: socketPath },
  });
  const lines = stdout.split("\n").filter((l) => l !== "");
  assert.match(lines[0]!, /^0 = "" .*\(n0\)$/);
  assert.ok(
    lines.some((l) => /^ name = "Domain-0" .*\(n0\)$/.test(l)),
    stdout,
  );
  assert.ok(
    lines.some((l) => /^\s+script = "\/etc\/xen\/scripts\/vif-bridge" .*\(n0,r1\)$/.test(l)),
    stdout,
  );
  assert.ok(
    lines.some((l) => /^\s+backend = "\/local\/domain\/0\/backend\/vif\/2\/0" .*\(n2,r0\)$/.test(l)),
    stdout,
  );
  // The guest's home is Domain-0's, readable by the guest (libxl), and data/ is the guest's.
  assert.ok(
    lines.some((l) => /^1 = "" .*\(n0,r1\)$/.test(l)),
    stdout,
  );
  assert.ok(
    lines.some((l) => /^ data = "" .*\(n1\)$/.test(l)),
    stdout,
  );
});

test("--xenstore-trace: the trace file has the toolstack's transactions and the guests' requests", () => {
  const text = readFileSync(tracePath, "utf8");
  assert.match(text, / IN {2}conn \d+ dom0 XS_TRANSACTION_START tx 0 /);
  assert.match(
    text,
    / IN {2}conn \d+ dom0 XS_WRITE tx [1-9]\d* req \d+ \(\/local\/domain\/1\/device\/vif\/0\/backend\\0/,
  );
  assert.match(text, / IN {2}conn \d+ dom1 XS_WATCH tx 0 req \d+ \(\/local\/domain\/1\/device\/vif\\0/);
  assert.match(text, / OUT conn \d+ dom1 XS_WATCH_EVENT /);
});

test("a second host on the same socket is refused while the first one serves it", async () => {
  await assert.rejects(
    Host.boot(defaultHostConfig(), { socketPath }),
    (e: unknown) => e instanceof PvnetError && e.code === "EADDRINUSE" && /already running/.test(e.message),
  );
  // The refused host did not take the live socket away.
  const c = await XsClient.connect(socketPath);
  assert.equal(await c.read("/local/domain/0/name"), "Domain-0");
  c.close();
});

test("shutdown stops every domain and removes the socket", async () => {
  await host.shutdown();
  assert.equal(existsSync(socketPath), false);
  assert.deepEqual(host.machine.status(), []);
});
