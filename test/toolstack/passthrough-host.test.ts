/**
 * A netmap passthrough vif in a running host: a passthrough guest and a netif guest ping
 * each other over one bridge, the passthrough vif counts its frames as a vif does and holds
 * its area mapped while connected, and every way its guest goes (shutdown, destroyed under
 * traffic, destroyed mid-handshake) leaves Domain-0's resources at their baseline.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { PT_DEFAULT_SLOTS, ptLayout } from "../../src/netmap/pt-layout.js";
import { parseHostConfig } from "../../src/toolstack/config.js";
import type { DomainConfig } from "../../src/toolstack/config-types.js";
import { Host } from "../../src/toolstack/host.js";
import type { Dom0Resources } from "../../src/toolstack/host-proto.js";
import { untilStaged } from "./staged.js";

const YAML = `
domains:
  - name: Domain-0
  - name: net
    vifs: [{ ip: 10.0.0.2/24 }]
  - name: pt
    vifs: [{ ip: 10.0.0.1/24, passthrough: true }]
bridges:
  vale0: {}
`;

let host: Host;
let ptGuest: DomainConfig;
let baseline: Dom0Resources;
const logs: string[] = [];

async function until(what: string, ms: number, ok: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end)
      assert.fail(
        `timed out: ${what}\n${JSON.stringify(host.status().pings)}\n${logs.slice(-20).join("\n")}`,
      );
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

const pingsFrom = (name: string): number =>
  host
    .status()
    .pings.filter((p) => p.kind === "icmp" && p.from.startsWith(`${name}:`))
    .reduce((s, p) => s + p.received, 0);

async function backToBaseline(what: string): Promise<void> {
  let last: Dom0Resources | undefined;
  try {
    await until(`${what}: resources back to baseline`, 8000, async () => {
      last = await host.resources();
      return JSON.stringify(last) === JSON.stringify(baseline);
    });
  } catch {
    assert.deepEqual(last, baseline, what);
  }
}

before(async () => {
  const r = parseHostConfig(YAML, "pt.yaml");
  assert.ok(r.ok, JSON.stringify(r.ok ? null : r.issues));
  const [dom0, net, pt] = r.config.domains as [DomainConfig, DomainConfig, DomainConfig];
  ptGuest = pt;
  host = await Host.boot(
    { ...r.config, domains: [dom0, net] },
    {
      socketPath: null,
      ping: { count: 0, intervalMs: 5, timeoutMs: 500 },
      statusMs: 20,
      log: (l) => logs.push(l),
    },
  );
  await until("the netif guest connected", 10_000, connected(net.domid));
  await untilStaged(host);
  baseline = await host.resources();
});
after(async () => {
  await host?.shutdown();
});

test("passthrough vif: pings both ways with a netif guest; counters and mappings as a vif's", async () => {
  const domid = await host.addGuest(ptGuest);
  await until("the passthrough guest connected", 10_000, connected(domid));
  const during = await host.resources();
  // The passthrough guest's own probes, and one ping the other way from the netif guest's stack.
  await until("pings from the passthrough guest", 30_000, () => pingsFrom("pt") >= 3);
  const back = await host.ping("net", 0x0a000001, 5000);
  assert.equal(back.ok, true, JSON.stringify(back));
  const v = host.status().vifs.find((x) => x.domid === domid)!;
  assert.equal(v.queues, 1);
  assert.equal(v.fatal, false);
  assert.ok(v.counters.rx_packets >= 3 && v.counters.tx_packets >= 3, JSON.stringify(v.counters));
  // The area (status block and region) plus the idle netif rings, each mapped once.
  const pages = ptLayout(PT_DEFAULT_SLOTS).pages;
  assert.ok(v.grantMappings >= pages + 2, `${v.grantMappings} mappings, ${pages} pages`);
  assert.ok(during.dom0Mappings >= baseline.dom0Mappings + pages, "Domain-0 maps the area");
  assert.equal(during.netbackVifs, baseline.netbackVifs + 1);
  await host.shutdownGuest(domid);
  await backToBaseline("shutdown");
});

test("passthrough guest destroyed under traffic: Domain-0 back to baseline, the other guest unharmed", async () => {
  const domid = await host.addGuest(ptGuest);
  await until("the passthrough guest connected", 10_000, connected(domid));
  const before = pingsFrom("pt");
  await until("frames flowing", 30_000, () => pingsFrom("pt") > before + 3);
  await host.destroyGuest(domid);
  await backToBaseline("destroyed under traffic");
  assert.equal(host.status().vifs.filter((v) => v.domid === domid).length, 0);
});

test("passthrough guest destroyed mid-handshake: Domain-0 back to baseline", async () => {
  await host.addGuest(ptGuest).then((domid) => host.destroyGuest(domid));
  await backToBaseline("destroyed mid-handshake");
});

test("passthrough vif detached from a live guest: its area is unmapped, its port and device gone", async () => {
  const domid = await host.addGuest(ptGuest);
  await until("the passthrough guest connected", 10_000, connected(domid));
  const during = await host.resources();
  await host.detachVif(domid, 0);
  let last: Dom0Resources | undefined;
  await until("the vif's resources released", 8000, async () => {
    last = await host.resources();
    return last.netbackVifs === baseline.netbackVifs && last.valePorts === baseline.valePorts;
  });
  await until("the area unmapped", 8000, async () => {
    last = await host.resources();
    // What is left of the guest in Domain-0: its xenstore ring.
    return last.dom0Mappings === baseline.dom0Mappings + 1 && last.grantPins === baseline.grantPins + 1;
  }).catch(() => assert.fail(`after detach ${JSON.stringify(last)}, during ${JSON.stringify(during)}`));
  await host.destroyGuest(domid);
  await backToBaseline("detached, then destroyed");
});

test("passthrough vif across a backend restart: it reconnects with a fresh area and pings again", async () => {
  const domid = await host.addGuest(ptGuest);
  await until("the passthrough guest connected", 10_000, connected(domid));
  await host.restartBackend();
  await until("reconnected after the restart", 20_000, connected(domid));
  const r = await host.ping("net", 0x0a000001, 5000);
  assert.equal(r.ok, true, JSON.stringify(r));
  await host.destroyGuest(domid);
});

test("passthrough vif of 4096 slots (`passthrough-slots`): a five-page directory through xenstore, pings, then every page unmapped", async () => {
  const r = parseHostConfig(
    `${YAML.replace("passthrough: true }", "passthrough: true, passthrough-slots: 4096 }").replace("name: pt", "name: pt4k\n    memory: 64M")}`,
    "pt4k.yaml",
  );
  assert.ok(r.ok, JSON.stringify(r.ok ? null : r.issues));
  const cfg = r.config.domains[2]!;
  assert.equal(cfg.vifs[0]!.passthroughSlots, 4096);
  const domid = await host.addGuest(cfg);
  try {
    await until("the 4096-slot guest connected", 10_000, connected(domid));
    const pages = ptLayout(4096).pages;
    const during = await host.resources();
    assert.ok(during.dom0Mappings >= baseline.dom0Mappings + pages, "Domain-0 maps the whole area");
    const back = await host.ping("net", 0x0a000001, 5000);
    assert.equal(back.ok, true, JSON.stringify(back));
  } finally {
    await host.destroyGuest(domid);
  }
  await backToBaseline("4096 slots, destroyed");
});
