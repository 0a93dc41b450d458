/**
 * `pvnet up --web` in a real browser: Debian's chromium, headless, driven by playwright-core
 * (no browser download). The page loads without console errors, shows both guests and their
 * vifs Connected, its counters move while traffic runs, the handshake log holds the vif's
 * state writes in order, and a guest destroyed from the command line leaves the graph.
 * The host has a VXLAN uplink on vale0 (bound to 127.0.0.1, its remote an unused port there),
 * drawn as a port of the switch with its counters, which move as the guests' broadcasts are
 * flooded to the remote. PVNET_WEB_SCREENSHOT=FILE saves a screenshot of the page
 * (docs/web-view.png is one).
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DEFAULT_HOST_YAML } from "../../src/toolstack/config.js";
import { pvnetRun, UpProcess, until } from "./running-host.js";

/** A UDP port nobody listens on now (bound, read, released). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

test("pvnet up --web: live page in headless chromium", { timeout: 180_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (.ci/run installs Debian's chromium)`);
    return;
  }
  const { chromium } = await import("playwright-core");
  const up = new UpProcess(`pvnet-web-${process.pid}-`);
  const profile = mkdtempSync(join(tmpdir(), `pvnet-web-chromium-${process.pid}-`));
  let ctx: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | null = null;
  try {
    const [local, remote] = [await freeUdpPort(), await freeUdpPort()];
    const yaml = join(up.dir, "host.yaml");
    assert.match(DEFAULT_HOST_YAML, /^ {2}vale0: \{\}$/m);
    writeFileSync(
      yaml,
      DEFAULT_HOST_YAML.replace(
        /^ {2}vale0: \{\}$/m,
        `  vale0: { uplinks: [{ vxlan: { local: 127.0.0.1, port: ${local}, vni: 42, remotes: ["127.0.0.1:${remote}"] } }] }`,
      ),
    );
    await up.start([yaml, "--web", "127.0.0.1:0"]);
    await until("the web view's URL", async () => /web view at http:\/\/127\.0\.0\.1:\d+\//.test(up.out));
    const url = /web view at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(up.out)![1]!;
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1400, height: 1150 },
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    const text = async (sel: string): Promise<string> =>
      (await page.locator(sel).count()) === 0 ? "" : ((await page.locator(sel).first().textContent()) ?? "");

    // Both guests in the graph, each vif Connected at both ends (graph and table).
    for (const [guest, vif] of [
      ["guest1", "vif1.0"],
      ["guest2", "vif2.0"],
    ] as const) {
      await until(
        `${guest} in the graph`,
        async () => (await page.locator(`#topology [data-domain="${guest}"]`).count()) === 1,
        30_000,
      );
      await until(
        `${vif} Connected`,
        async () => (await text(`#topology [data-vif="${vif}"] .vif-state`)) === "Connected/Connected",
        30_000,
      );
      assert.equal(await text(`#vifs tr[data-vif="${vif}"] td.fe`), "Connected");
      assert.equal(await text(`#vifs tr[data-vif="${vif}"] td.be`), "Connected");
      assert.match(
        await text(`#vifs tr[data-vif="${vif}"] td.rings`),
        /q0 TX \d+\/\d+ \d+\/256 · RX \d+\/\d+ \d+\/256/,
      );
    }

    // Counters move while traffic runs: a ping from guest1's stack through the control socket.
    const before = Number(await text('#vifs tr[data-vif="vif1.0"] td.rx-packets'));
    const ping = await pvnetRun(["ping", "guest1", "10.0.0.2", "-c", "3"], up.env);
    assert.equal(ping.code, 0, ping.out + ping.err);
    await until(
      "vif1.0's RX count to move",
      async () => Number(await text('#vifs tr[data-vif="vif1.0"] td.rx-packets')) >= before + 3,
    );
    await until(
      "a throughput plot per port (two vifs and the uplink)",
      async () => (await page.locator("#plots [data-plot]").count()) === 3,
    );
    assert.equal(
      await page.locator('#plots [data-plot="vale0:vxlan0"]').count(),
      1,
      "the uplink has its plot",
    );

    // The handshake log holds vif1.0's frontend state writes, Initialising first, Connected later.
    const steps = await page.locator("#hs-steps li").allTextContents();
    const fe = steps.filter((s) => s.includes("/local/domain/1/device/vif/0/state ="));
    assert.ok(fe.length >= 2, steps.join("\n"));
    assert.match(fe[0]!, /= "1"/);
    assert.match(fe[fe.length - 1]!, /= "4"/);
    // The xenstore tree shows the backend's node with its permissions.
    assert.match(await text("#xenstore"), /state = "4" \(n0,r1\)/);

    // The uplink is a port of vale0 with its counters; the guests' ARP broadcasts and the
    // pings' flooding reach it, so its TX count is above zero.
    const uplink = '#topology [data-uplink="vale0:vxlan0"]';
    await until("the uplink in the graph", async () => (await page.locator(uplink).count()) === 1, 30_000);
    assert.match(await text(uplink), /vale0:vxlan0 \(vxlan uplink\)/);
    assert.match(
      await text(uplink),
      new RegExp(`VNI 42 127\\.0\\.0\\.1:${local} → 127\\.0\\.0\\.1:${remote}`),
    );
    await until("the uplink's TX count to move", async () => Number(await text(`${uplink} .tx-packets`)) > 0);
    assert.match(await text(`${uplink} .uplink-counters`), /^TX \d+ · RX 0 pkts · drops \d+ · errors \d+$/);
    assert.match(await text('#topology [data-bridge="vale0"]'), /vale0 \(VALE, 3 ports\)/);

    const shot = process.env.PVNET_WEB_SCREENSHOT;
    if (shot !== undefined && shot !== "") await page.screenshot({ path: shot, fullPage: true });

    // A guest destroyed from another shell leaves the graph and the table.
    const destroyed = await pvnetRun(["destroy", "guest2"], up.env);
    assert.equal(destroyed.code, 0, destroyed.out + destroyed.err);
    await until(
      "guest2 gone from the graph",
      async () => (await page.locator('#topology [data-domain="guest2"]').count()) === 0,
      30_000,
    );
    // The domain leaves the status first; its vif follows once netback has closed it (the
    // table can show it one sample longer than the graph shows the domain).
    await until(
      "vif2.0 gone from the table",
      async () => (await page.locator('#vifs tr[data-vif="vif2.0"]').count()) === 0,
      30_000,
    );
    assert.equal(await page.locator('#topology [data-domain="guest1"]').count(), 1);
    assert.deepEqual(errors, []);
  } finally {
    await ctx?.close().catch(() => undefined);
    await up.stop().catch(() => undefined);
    up.remove();
    rmSync(profile, { recursive: true, force: true });
  }
});
