/**
 * Teardown through the real drivers: a guest destroyed (`xl destroy`) while it sends and
 * receives leaves no mapping of its grants in Domain-0, its vif's backend goes to Closed (or
 * is removed), and the other guests keep exchanging frames; after Host.shutdown, Domain-0
 * holds no mapping netback made.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { XenbusState } from "../../src/xenstore/xenbus.js";
import { buildFrame, firstDiff } from "./frames.js";
import { Chain, type ChainGuest, until } from "./harness.js";

let chain: Chain;
let g1: ChainGuest;
let g2: ChainGuest;
let g3: ChainGuest;

before(async () => {
  chain = await Chain.boot([{}, {}, { queues: 2, ringPageOrder: 1 }]);
  [g1, g2, g3] = chain.guests;
  await chain.hello();
});
after(async () => {
  await chain?.shutdown();
});

const item = (bytes: Uint8Array, repeat = 1) => ({ bytes, flags: 0, gsoType: 0, gsoSize: 0, repeat });

/**
 * What `to` received from `src`: once guest3 is gone the switch floods frames still sent to
 * its address (unknown unicast), as a bridge does, so guest2 may see guest1's frames for it.
 */
function from(to: ChainGuest, src: ChainGuest) {
  // MACs are 00:16:3e:00:<n>:00: byte 4 of each names the guest.
  const id = (mac: number) => (mac >>> 8) & 0xff;
  return chain
    .received(to)
    .filter((r) => r.bytes !== null && r.bytes[4] === id(to.mac) && r.bytes[10] === id(src.mac));
}

/** guest1 and guest2 exchange `n` frames each way; all arrive intact. */
async function exchange(n: number, seed: number): Promise<void> {
  await chain.clear(g1);
  await chain.clear(g2);
  const a = Array.from({ length: n }, (_, i) =>
    buildFrame({ kind: "udp4", len: 60 + ((i * 131) % 9000), dst: g2.mac, src: g1.mac, seed: seed + i }),
  );
  const b = Array.from({ length: n }, (_, i) =>
    buildFrame({
      kind: "tcp4",
      len: 60 + ((i * 71) % 3000),
      dst: g1.mac,
      src: g2.mac,
      seed: seed + 9000 + i,
    }),
  );
  await Promise.all([
    chain.send(
      g1,
      a.map((f) => item(f)),
    ),
    chain.send(
      g2,
      b.map((f) => item(f)),
    ),
  ]);
  await until("both ways delivered", 3000, () => from(g2, g1).length >= n && from(g1, g2).length >= n);
  const r2 = from(g2, g1);
  const r1 = from(g1, g2);
  assert.equal(r2.length, n);
  assert.equal(r1.length, n);
  r2.forEach((r, i) => {
    assert.equal(firstDiff(r.bytes as Uint8Array, a[i]), -1, `to guest2 #${i}`);
  });
  r1.forEach((r, i) => {
    assert.equal(firstDiff(r.bytes as Uint8Array, b[i]), -1, `to guest1 #${i}`);
  });
}

test("a guest destroyed under traffic: its mappings end, its backend closes, the others go on", async () => {
  await exchange(100, 1);
  const vif3 = () => chain.host.status().vifs.find((v) => v.domid === g3.domid)!;
  await until("guest3's rings mapped", 1000, () => vif3().grantMappings > 0);
  // guest3 sends big frames (its payloads mapped in Domain-0 while they cross) and receives.
  void chain
    .send(g3, [item(buildFrame({ kind: "raw", len: 30000, dst: g1.mac, src: g3.mac, seed: 7 }), 100000)])
    .catch(() => undefined);
  const toG3 = chain
    .send(g1, [item(buildFrame({ kind: "raw", len: 9000, dst: g3.mac, src: g1.mac, seed: 8 }), 300)])
    .catch(() => undefined);
  await until("guest3's frames flowing", 2000, () => chain.back(g3).rx_packets > 50);
  await chain.host.machine.destroyDomain(g3.domid);
  await until("guest3's vif closed and unmapped", 3000, () => {
    const v = vif3();
    return (
      v.grantMappings === 0 &&
      (v.backend.state === XenbusState.Closed || v.backend.state === XenbusState.Unknown)
    );
  });
  // guest1 has handed over its frames for guest3 (flooded once guest3 left), and they crossed.
  await toG3;
  await new Promise((r) => setTimeout(r, 50));
  // The others are unharmed: their vifs Connected, frames both ways intact.
  for (const g of [g1, g2]) {
    const v = chain.host.status().vifs.find((x) => x.domid === g.domid)!;
    assert.deepEqual([v.frontend.state, v.backend.state, v.fatal], [4, 4, false], v.name);
  }
  await exchange(200, 100);
});

test("after shutdown Domain-0 holds no grant mapping, xenstored's rings included", async () => {
  const m0 = chain.host.dom0Mappings();
  // guest1 and guest2: a TX and an RX ring each, and their xenstore rings.
  assert.ok(m0.live >= 6 && m0.xenstoreRings === 2, JSON.stringify(m0));
  await chain.shutdown();
  const m = chain.host.dom0Mappings();
  // Guests stop before Domain-0, and Domain-0 is told of each (as of a destroyed domain):
  // netback and xenstored both end what they mapped of them.
  assert.deepEqual([m.live, m.xenstoreRings], [0, 0], JSON.stringify(m));
  assert.deepEqual(chain.host.machine.status(), []);
});
