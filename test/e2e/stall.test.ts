/**
 * A guest that stops taking frames (its thread hangs: nothing re-posted, no event handled)
 * does not stall the others: netback queues its frames up to the byte bound, then drops and
 * counts them in its vif's tx_dropped (Domain-0's view), while two other guests keep
 * exchanging traffic through the same switch. Once it runs again it gets exactly what was
 * not counted as dropped.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { buildFrame, firstDiff } from "./frames.js";
import { Chain, type ChainGuest, until } from "./harness.js";

let chain: Chain;
let g1: ChainGuest;
let g2: ChainGuest;
let g3: ChainGuest;

before(async () => {
  chain = await Chain.boot([{}, {}, {}]);
  [g1, g2, g3] = chain.guests;
  await chain.hello();
});
after(async () => {
  await chain?.shutdown();
});

const FLOOD = 3000;
const EACH = 300;

test("a hung guest's frames are queued, then dropped and counted; the others keep exchanging", async () => {
  for (const g of chain.guests) await chain.clear(g);
  const drop0 = chain.back(g3).tx_dropped;
  await chain.hang(g3);
  const toG3 = buildFrame({ kind: "udp4", len: 1514, dst: g3.mac, src: g1.mac, seed: 1 });
  await chain.send(g1, [{ bytes: toG3, flags: 0, gsoType: 0, gsoSize: 0, repeat: FLOOD }]);
  await until("guest3's drops counted", 3000, () => chain.back(g3).tx_dropped - drop0 > 0);

  // guest1 and guest2, both ways, while guest3 is still hung.
  const a = Array.from({ length: EACH }, (_, i) =>
    buildFrame({ kind: "udp4", len: 60 + ((i * 37) % 1400), dst: g2.mac, src: g1.mac, seed: 10 + i }),
  );
  // One slot each: what guest1 has posted (256 buffers) plus netback's backlog (256 KiB) holds
  // all of them even if guest1, busy sending, re-posts late. Larger frames could overrun it,
  // and a receiver overrun is a counted drop, not a stall: that is not what this test asks.
  const b = Array.from({ length: EACH }, (_, i) =>
    buildFrame({ kind: "raw", len: 60 + ((i * 53) % 1455), dst: g1.mac, src: g2.mac, seed: 5000 + i }),
  );
  const item = (bytes: Uint8Array) => ({ bytes, flags: 0, gsoType: 0, gsoSize: 0, repeat: 1 });
  await Promise.all([chain.send(g1, a.map(item)), chain.send(g2, b.map(item))]);
  await until(
    "guest1 and guest2 got every frame",
    3000,
    () => chain.rxCount(g2) >= EACH && chain.rxCount(g1) >= EACH,
  );
  assert.equal(Atomics.load(new Int32Array(g3.extra.hang), 0), 1, "guest3 still hung");
  assert.equal(chain.rxCount(g3), 0, "guest3 took nothing while hung");
  const r2 = chain.received(g2);
  const r1 = chain.received(g1);
  assert.equal(r2.length, EACH);
  assert.equal(r1.length, EACH);
  r2.forEach((r, i) => {
    assert.equal(firstDiff(r.bytes as Uint8Array, a[i]), -1, `guest2 frame ${i}`);
  });
  r1.forEach((r, i) => {
    assert.equal(firstDiff(r.bytes as Uint8Array, b[i]), -1, `guest1 frame ${i}`);
  });
  for (const g of [g1, g2]) assert.equal(chain.back(g).tx_dropped, 0, `guest${g.domid} tx_dropped`);

  // guest3 runs again: it gets what was queued, and the rest was counted, exactly.
  chain.unhang(g3);
  await until("guest3's frames delivered or counted", 3000, () => {
    return chain.rxCount(g3) + chain.back(g3).tx_dropped - drop0 === FLOOD;
  });
  const dropped = chain.back(g3).tx_dropped - drop0;
  assert.ok(dropped > 0 && dropped < FLOOD, `dropped ${dropped}`);
  assert.ok(chain.rxCount(g3) >= 256, `delivered ${chain.rxCount(g3)}: at least the posted ring`);
  for (const r of chain.received(g3)) assert.equal(firstDiff(r.bytes as Uint8Array, toG3), -1);
  // Still exactly that after a while (nothing counted twice, nothing late).
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(chain.rxCount(g3) + chain.back(g3).tx_dropped - drop0, FLOOD);
});
