/**
 * The library's Netif, from a guest program of a test's own on a pvnet host: it waits for
 * its device, writes and hears frames, counts them, and disconnects to Closed; a device
 * that never appears is ETIMEDOUT.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import { parseIpv4 } from "../../src/wire/net/ipv4.js";
import { XenbusState } from "../../src/xenstore/xenbus.js";

const YAML = `
domains:
  - name: Domain-0
  - name: peer
    vifs: [{ ip: 10.0.0.1/24, bridge: vale0 }]
  - name: user
    vifs: [{ mac: "00:16:3e:0a:0b:0c", bridge: vale0 }]
  - name: lonely
bridges:
  vale0: {}
`;

test("a guest of its own connects a Netif, ARPs for a pvnet guest by hand, and disconnects", async () => {
  const r = parseHostConfig(YAML, "t.yaml");
  assert.ok(r.ok);
  const program = new URL("./programs/netif-user.js", import.meta.url);
  const results = new Map<number, Record<string, unknown>>();
  const host = await Host.boot(r.config, {
    socketPath: null,
    // The user's Netif connects when told "go", after boot: boot must not wait for it.
    connectTimeoutMs: 0,
    programs: { user: program, lonely: program },
    guestExtra: (i) =>
      i === 1
        ? { role: "arp", me: parseIpv4("10.0.0.2"), peer: parseIpv4("10.0.0.1") }
        : { role: i === 2 ? "lonely" : "none" },
  });
  const done = new Promise<void>((resolve) =>
    host.machine.on("report", (domid: number, data: { t?: string } | null) => {
      if (data?.t !== "netif-test") return;
      results.set(domid, data as Record<string, unknown>);
      if (results.size === 2) resolve();
    }),
  );
  host.machine.post(2, "go");
  host.machine.post(3, "go");
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`results from ${[...results.keys()]} only`)), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const user = results.get(2)!;
    assert.equal(user.error, undefined, String(user.error));
    assert.equal(user.macAddress, "00:16:3e:0a:0b:0c");
    assert.equal(user.mtu, 1500);
    assert.equal(user.carrier, true);
    assert.equal(user.state, XenbusState.Connected);
    assert.ok((user.replyLen as number) >= 42, "the peer's ARP reply: Ethernet and ARP headers");
    assert.ok((user.txPackets as number) >= 1 && (user.txPackets as number) <= (user.sent as number) + 1);
    assert.ok((user.rxPackets as number) >= 1);
    assert.ok((user.lentAt as number) >= 0, "a TX buffer was lent");
    assert.equal(user.lentCommitted, true);
    assert.ok((user.lentReplyLen as number) >= 42, "the request built in place was answered");
    assert.ok((user.lentTxPackets as number) > (user.txPackets as number), "the lent frame was counted");
    assert.ok((user.lentAtDisconnect as number) >= 0);
    assert.equal(user.commitAfterDisconnect, false);
    assert.equal(user.lendAfterDisconnect, -1);
    assert.equal(user.stateAfter, XenbusState.Closed);
    assert.equal(user.carrierAfter, false);
    const lonely = results.get(3)!;
    assert.equal(lonely.code, "ETIMEDOUT");
    assert.ok((lonely.ms as number) >= 290 && (lonely.ms as number) < 3000, String(lonely.ms));
  } finally {
    await host.shutdown();
  }
});
