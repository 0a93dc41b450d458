/**
 * Handshake variants through the real drivers on one host: ring-page-order 0..4, 1, 2 and 4
 * queues, single and split event channels. Both ends reach Connected with what was asked
 * (netback's view: queues, order, channels), and traffic flows on every queue: each guest
 * sends 32 flows to the next one; every TX queue of the sender and every RX queue of the
 * receiver carries frames, and every frame arrives intact.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, test } from "node:test";
import { XenbusState } from "../../src/xenstore/xenbus.js";
import { buildFrame } from "./frames.js";
import { Chain, type GuestSpec, until } from "./harness.js";

// Staging off, so Domain-0's mappings are the rings' alone (staged pools: staging-host.test).
const SPECS: GuestSpec[] = [
  { ringPageOrder: 0, queues: 1, split: false, staging: false },
  { ringPageOrder: 1, queues: 2, split: true, staging: false },
  { ringPageOrder: 2, queues: 4, split: false, staging: false },
  { ringPageOrder: 3, queues: 2, split: false, staging: false },
  { ringPageOrder: 4, queues: 4, split: true, staging: false },
];

let chain: Chain;

before(async () => {
  chain = await Chain.boot(SPECS);
  await chain.hello();
});
after(async () => {
  await chain?.shutdown();
});

test("every vif is Connected at both ends with the ring order, queues and channels asked for", () => {
  const vifs = chain.host.status().vifs;
  assert.equal(vifs.length, SPECS.length);
  for (const [i, s] of SPECS.entries()) {
    const v = vifs[i];
    assert.deepEqual(
      [v.frontend.state, v.backend.state, v.ringPageOrder, v.queues, v.splitEventChannels, v.fatal],
      [XenbusState.Connected, XenbusState.Connected, s.ringPageOrder, s.queues, s.split, false],
      v.name,
    );
    assert.equal(chain.guests[i].counters.length, s.queues, `${v.name}: netfront queues`);
    // Domain-0 maps 2^order pages per ring, two rings per queue (and the xenstore ring),
    // and the control ring netfront sets up to steer several queues.
    const ctrl = s.queues! > 1 ? 1 : 0;
    assert.equal(v.grantMappings, 2 * s.queues! * 2 ** s.ringPageOrder! + 1 + ctrl, `${v.name}: mappings`);
  }
});

const FLOWS = 32;
const PER_FLOW = 8;

const digest = (b: Uint8Array): string => createHash("sha1").update(b).digest("hex");

test("frames flow on every queue of every vif, intact", async () => {
  const gs = chain.guests;
  for (const g of gs) await chain.clear(g);
  const tx0 = gs.map((g) => chain.frontPerQueue(g, "tx_packets"));
  const rx0 = gs.map((g) => chain.frontPerQueue(g, "rx_packets"));
  const sent = gs.map((g, i) => {
    const to = gs[(i + 1) % gs.length];
    return Array.from({ length: FLOWS * PER_FLOW }, (_, k) =>
      buildFrame({
        kind: k % 2 === 0 ? "udp4" : "tcp4",
        len: 60 + ((k * 97) % 6000),
        dst: to.mac,
        src: g.mac,
        seed: i * 10000 + k,
        sport: 2000 + (k % FLOWS),
      }),
    );
  });
  await Promise.all(
    gs.map((g, i) =>
      chain.send(
        g,
        sent[i].map((bytes) => ({ bytes, flags: 0, gsoType: 0, gsoSize: 0, repeat: 1 })),
      ),
    ),
  );
  const n = FLOWS * PER_FLOW;
  await until("every frame delivered", 5000, () => gs.every((g) => chain.rxCount(g) >= n));
  for (const [i, g] of gs.entries()) {
    const from = (i + gs.length - 1) % gs.length;
    const got = chain.received(g).map((r) => digest(r.bytes as Uint8Array));
    assert.deepEqual(got.sort(), sent[from].map(digest).sort(), `guest${g.domid}: frames`);
    const tx = chain.frontPerQueue(g, "tx_packets").map((v, q) => v - tx0[i][q]);
    const rx = chain.frontPerQueue(g, "rx_packets").map((v, q) => v - rx0[i][q]);
    assert.ok(
      tx.every((v) => v > 0),
      `guest${g.domid}: TX per queue ${tx}`,
    );
    assert.ok(
      rx.every((v) => v > 0),
      `guest${g.domid}: RX per queue ${rx}`,
    );
    assert.equal(
      tx.reduce((s, v) => s + v, 0),
      n,
    );
  }
});
