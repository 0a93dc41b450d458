/**
 * A guest's life leaves nothing behind in Domain-0: every count Host.resources() gives
 * (ports, mappings, pins, xenstore rings, watches, nodes, connections, VALE ports, timers,
 * netback devices) is back to its baseline once the guest is gone, whether it shut down in
 * order, was destroyed in the middle of its handshake, or was destroyed under traffic; and
 * over many lives nothing grows. The dead guest's devices leave xenstore (libxl's removal).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { defaultHostConfig } from "../../src/toolstack/config.js";
import type { DomainConfig } from "../../src/toolstack/config-types.js";
import { Host } from "../../src/toolstack/host.js";
import type { Dom0Resources } from "../../src/toolstack/host-proto.js";
import { XsClient } from "../../src/xenstore/client.js";
import { untilStaged } from "./staged.js";

const config = defaultHostConfig();
// Booted with guest1 only; guest2's config is the one each life adds.
const [dom0, guest1, guest2] = config.domains as [DomainConfig, DomainConfig, DomainConfig];
const dir = mkdtempSync(join(tmpdir(), "pvnet-life-"));
const socketPath = join(dir, "xs.sock");
let host: Host;
let baseline: Dom0Resources;
const logs: string[] = [];

async function until(what: string, ms: number, ok: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const connected = (domid: number) => (): boolean =>
  host
    .status()
    .vifs.some(
      (v) =>
        v.domid === domid && v.frontend.state === 4 && v.backend.state === 4 && v.hotplug === "connected",
    );

/** Waits for the counts to come back to the baseline; the last counts on failure. */
async function backToBaseline(what: string): Promise<void> {
  let last: Dom0Resources | undefined;
  try {
    await until(`${what}: resources back to baseline`, 4000, async () => {
      last = await host.resources();
      return JSON.stringify(last) === JSON.stringify(baseline);
    });
  } catch {
    assert.deepEqual(last, baseline, what);
  }
}

before(async () => {
  host = await Host.boot(
    { ...config, domains: [dom0, guest1] },
    { socketPath, ping: { count: 0, intervalMs: 5, timeoutMs: 200 }, statusMs: 20, log: (l) => logs.push(l) },
  );
  await until("guest1 connected", 5000, connected(1));
  await untilStaged(host);
  baseline = await host.resources();
});
after(async () => {
  await host?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test("resources() is a flat object of counts, taken in Domain-0", () => {
  for (const [k, v] of Object.entries(baseline)) assert.ok(Number.isInteger(v) && v >= 0, `${k}: ${v}`);
  assert.ok(baseline.dom0Ports >= 2, "guest1's xenstore port and its vif's"); // at least
  assert.ok(baseline.dom0Mappings >= 3, "xenstore ring and the vif's two rings");
  assert.equal(baseline.valePorts, 1);
  assert.equal(baseline.netbackVifs, 1);
  assert.equal(baseline.xenstoreRings, 1);
});

type Death = "shutdown" | "destroyed mid-handshake" | "destroyed under traffic";

async function life(death: Death): Promise<number> {
  const domid = await host.addGuest(guest2);
  if (death === "shutdown") {
    await until(`dom${domid} connected`, 5000, connected(domid));
    const during = await host.resources();
    assert.ok(during.dom0Ports > baseline.dom0Ports, "the guest's life uses Domain-0 ports");
    assert.equal(during.netbackVifs, baseline.netbackVifs + 1);
    await host.shutdownGuest(domid);
  } else if (death === "destroyed mid-handshake") {
    await host.destroyGuest(domid);
  } else {
    await until(`dom${domid} connected`, 5000, connected(domid));
    const sent = () => host.status().pings.find((p) => p.from === `${guest2.name}:0`)?.received ?? 0;
    const before = sent();
    await until(`dom${domid} exchanging frames`, 5000, () => sent() > before + 3);
    await host.destroyGuest(domid);
  }
  return domid;
}

for (const death of ["shutdown", "destroyed mid-handshake", "destroyed under traffic"] as const) {
  test(`a guest ${death}: every Domain-0 count is back to baseline, its devices are gone`, async () => {
    const domid = await life(death);
    await backToBaseline(death);
    assert.equal(host.status().vifs.filter((v) => v.domid === domid).length, 0);
    const c = await XsClient.connect(socketPath);
    try {
      for (const p of [`/local/domain/0/backend/vif/${domid}`, `/libxl/${domid}`, `/local/domain/${domid}`])
        assert.equal(await c.exists(p), false, `${p} removed`);
      assert.equal(await c.exists("/local/domain/0/backend/vif/1/0"), true, "guest1's device stays");
    } finally {
      c.close();
    }
  });
}

test("twenty lives, the three deaths in turn: nothing grows", async () => {
  const deaths: Death[] = ["shutdown", "destroyed mid-handshake", "destroyed under traffic"];
  for (let i = 0; i < 20; i++) {
    const death = deaths[i % 3]!;
    await life(death);
    await backToBaseline(`life ${i} (${death})`);
  }
  // guest1 kept its connection through all of it.
  assert.ok(connected(1)(), "guest1 still connected");
});

test("a guest's home is Domain-0's (n0,rN): the guest cannot remove its name or domid, and writes where libxl lets it", {
  timeout: 30_000,
}, async () => {
  let resolve: (r: Record<string, string>) => void = () => {};
  const home = new Promise<Record<string, string>>((r) => {
    resolve = r;
  });
  const h = await Host.boot(
    { ...config, domains: [dom0, guest1] },
    {
      socketPath: null,
      connectTimeoutMs: 0, // this guest only probes its home; its vif never connects
      guestProgram: new URL("./programs/home-guest.js", import.meta.url),
      log: (l) => {
        if (l.startsWith('{"t":"home"')) resolve(JSON.parse(l));
      },
    },
  );
  try {
    const got = await home;
    assert.deepEqual(got, {
      t: "home",
      rmName: "EACCES",
      rmDomid: "EACCES",
      writeName: "EACCES",
      rmHome: "EACCES",
      newKey: "EACCES",
      writeDevice: "EACCES",
      writeVif: "ok",
      writeData: "ok",
      writeShutdown: "ok",
      writeError: "ok",
      name: guest1.name,
      domid: "1",
    });
  } finally {
    await h.shutdown();
  }
});

test("orderly shutdown writes each backend's Closing and Closed once, then removes its directories", {
  timeout: 30_000,
}, async () => {
  const tracePath = join(dir, "trace");
  const h = await Host.boot(config, { socketPath: null, tracePath });
  await until("both vifs connected", 5000, () => h.status().vifs.every((v) => v.backend.state === 4));
  await h.shutdownGuest(guest2.name);
  await h.shutdown();
  const lines = readFileSync(tracePath, "utf8")
    .split("\n")
    .filter((l) => l.includes(" IN "));
  for (const g of [1, 2]) {
    const be = `/local/domain/0/backend/vif/${g}`;
    const states = lines
      .map((l) => l.match(new RegExp(`XS_WRITE tx \\d+ req \\d+ \\(${be}/0/state\\\\0(\\d)\\)`))?.[1])
      .filter((x) => x !== undefined);
    assert.deepEqual(states.slice(-3), ["4", "5", "6"], `vif${g}.0: ${states.join(",")}`);
    assert.equal(states.filter((s) => s === "5").length, 1, `vif${g}.0 Closing once`);
    assert.equal(states.filter((s) => s === "6").length, 1, `vif${g}.0 Closed once`);
    const closed = lines.findIndex((l) => l.includes(`(${be}/0/state\\06)`));
    const rm = lines.findIndex((l) => l.includes(`XS_RM`) && l.includes(`(${be}\\0)`));
    assert.ok(rm > closed, `vif${g}.0's backend directory removed after Closed`);
    assert.ok(
      lines.slice(rm).every((l) => !l.includes(`${be}/0/state`) || !l.includes("XS_WRITE")),
      "no state written after the removal",
    );
    assert.ok(
      lines.some((l) => l.includes("XS_RM") && l.includes(`(/libxl/${g}\\0)`)),
      `/libxl/${g} removed`,
    );
  }
});
