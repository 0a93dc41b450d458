/**
 * `pvnet up` end to end with the real drivers: both vifs connect, the guests ping and
 * UDP-echo each other, netfront's keys are in the tree, and the CLI's --json agrees.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { defaultHostConfig } from "../../src/toolstack/config.js";
import { Host, type HostStatus } from "../../src/toolstack/host.js";
import { XsClient } from "../../src/xenstore/client.js";
import { XenbusState } from "../../src/xenstore/xenbus.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pvnet-up-e2e-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const connected = (s: HostStatus): boolean =>
  s.vifs.length > 0 &&
  s.vifs.every(
    (v) => v.frontend.state === XenbusState.Connected && v.backend.state === XenbusState.Connected,
  );

test("both vifs reach Connected at both ends; the guests ping and UDP-echo each other", async () => {
  const socketPath = join(dir, "a.sock");
  const host = await Host.boot(defaultHostConfig(), { socketPath, ping: { intervalMs: 100, count: 0 } });
  try {
    // Boot resolves with every vif Connected at both ends and hotplugged.
    const s0 = host.status();
    assert.ok(connected(s0), JSON.stringify(s0.vifs));
    for (const v of s0.vifs) assert.equal(v.hotplug, "connected");
    await until("pings answered both ways", 5000, () => {
      const s = host.status();
      // netback's counters reach the host with Domain-0's status copy (every 250 ms), after
      // the ping reports: wait for them too rather than assume a period has passed.
      return (
        ["guest1:0", "guest2:0"].every((from) =>
          (["icmp", "udp"] as const).every((kind) =>
            s.pings.some((x) => x.from === from && x.kind === kind && x.received >= 3),
          ),
        ) && s.vifs.every((v) => v.counters.tx_packets > 0 && v.counters.rx_packets > 0)
      );
    });
    const s = host.status();
    for (const p of s.pings) {
      assert.ok(p.rttMs !== null && p.rttMs.min > 0 && p.rttMs.max < 1000, JSON.stringify(p));
    }
    // Guest to guest needs no soft offload (vifs take offloads): the bridge's counters stay 0.
    assert.deepEqual(s.bridges, [
      { name: "vale0", softOffload: { gsoFrames: 0, gsoSegments: 0, csumFilled: 0, offloadDrops: 0 } },
    ]);
    for (const v of s.vifs) {
      assert.ok(v.counters.tx_packets > 0 && v.counters.rx_packets > 0, JSON.stringify(v.counters));
      assert.equal(v.counters.tx_fatal, 0);
      assert.ok(v.stack.rxFrames > 0, JSON.stringify(v.stack));
    }
    // Netfront's keys are in the tree as a Linux guest writes them.
    const c = await XsClient.connect(socketPath);
    try {
      for (const g of [1, 2]) {
        const fe = `/local/domain/${g}/device/vif/0`;
        assert.equal(await c.read(`${fe}/state`), "4");
        assert.equal(await c.read(`${fe}/request-rx-copy`), "1");
        assert.ok(await c.exists(`${fe}/tx-ring-ref`));
        assert.equal(await c.read(`/local/domain/0/backend/vif/${g}/0/state`), "4");
        assert.equal(await c.read(`/local/domain/0/backend/vif/${g}/0/hotplug-status`), "connected");
      }
    } finally {
      c.close();
    }
  } finally {
    await host.shutdown();
  }
  assert.equal(existsSync(socketPath), false);
});

test("pvnet up --for --json: states 4/4 by number and name; every requested probe sent and answered, rows by pair", async () => {
  const sock = join(dir, "b.sock");
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
    const p = spawn(process.execPath, [
      MAIN,
      "up",
      "--for",
      "3",
      "--json",
      "--ping-count",
      "5",
      "--ping-interval",
      "50",
      "--xenstore-socket",
      sock,
      // Its own control socket: other files' hosts may run at the same time.
      "--control",
      join(dir, "b-control.sock"),
      // And its own switches' socket: the default is where other files' pkt-gens look.
      "--netmapd-socket",
      join(dir, "b-netmapd.sock"),
    ]);
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    p.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, out, err }));
  });
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as {
    vifs: {
      frontend: { state: number; stateName: string };
      backend: { state: number; stateName: string };
      stack: Record<string, number>;
    }[];
    pings: {
      from: string;
      to: string;
      kind: string;
      sent: number;
      received: number;
      lastError: string | null;
    }[];
  };
  for (const v of s.vifs) {
    assert.deepEqual(v.frontend, { state: 4, stateName: "Connected" });
    assert.deepEqual(v.backend, { state: 4, stateName: "Connected" });
    assert.equal(v.stack.txDropArpQueueFull, 0);
    assert.equal(v.stack.txDropNoArp, 0);
  }
  // Probes start once the peer answers ARP, so none is lost to the other guest's boot.
  assert.deepEqual(
    s.pings.map((p) => [p.from, p.to, p.kind, p.sent, p.received, p.lastError]),
    [
      ["guest1:0", "10.0.0.2", "icmp", 5, 5, null],
      ["guest1:0", "10.0.0.2", "udp", 5, 5, null],
      ["guest2:0", "10.0.0.1", "icmp", 5, 5, null],
      ["guest2:0", "10.0.0.1", "udp", 5, 5, null],
    ],
    r.out,
  );
});
