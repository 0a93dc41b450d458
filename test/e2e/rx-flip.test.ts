/**
 * Page-flipping receive through the whole chain (netfront -> netback -> VALE -> netback
 * flipping -> netfront with `rx-mode: flip`), with the real handshake: every size class
 * byte for byte to a flipping receiver with sg, GSO superframes whole, and no slot failing
 * its transfer.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4 } from "../../src/wire/xen/netif.js";
import { buildFrame, firstDiff } from "./frames.js";
import { Chain, type ChainGuest, until } from "./harness.js";
import type { SendItem } from "./programs/chain-guest.js";

let chain: Chain;
let a: ChainGuest;
let flip: ChainGuest;

before(async () => {
  chain = await Chain.boot([{}, { rxMode: "flip" }]);
  [a, flip] = chain.guests;
  await chain.hello();
});
after(async () => {
  await chain?.shutdown();
});

const SIZES = [60, 61, 127, 128, 129, 1514, 4095, 4096, 4097, 9000, 32768, 65535];

const item = (bytes: Uint8Array, flags = 0, gsoType = 0, gsoSize = 0): SendItem => ({
  bytes,
  flags,
  gsoType,
  gsoSize,
  repeat: 1,
});

async function exchange(items: SendItem[], frames: number) {
  await chain.clear(flip);
  const c0 = chain.back(flip);
  await chain.send(a, items);
  await until(`${frames} frames at the flipping guest`, 10_000, () => chain.rxCount(flip) >= frames);
  await new Promise((r) => setTimeout(r, 30));
  const got = chain.received(flip);
  const c1 = chain.back(flip);
  assert.equal(got.length, frames, "frames received");
  assert.equal(c1.tx_dropped - c0.tx_dropped, 0, "tx_dropped (to the receiver)");
  assert.equal(c1.grant_errors - c0.grant_errors, 0, "no transfer failed");
  return got;
}

test("flip: every size class 60 B..64 KiB reaches the flipping guest byte for byte, in order", async () => {
  const frames = SIZES.map((len, i) =>
    buildFrame({ kind: "udp4", len, dst: flip.mac, src: a.mac, seed: i + 1 }),
  );
  const got = await exchange(
    frames.map((f) => item(f)),
    frames.length,
  );
  got.forEach((r, i) => {
    assert.ok(r.bytes !== null);
    assert.equal(r.len, frames[i].length, `frame ${i} length`);
    assert.equal(firstDiff(r.bytes, frames[i]), -1, `frame ${i} (${frames[i].length} B) intact`);
  });
});

test("flip: a GSO superframe arrives whole with its extra (the extra slot's offer is revoked and re-offered)", async () => {
  const f = buildFrame({ kind: "tcp4", len: 65535, dst: flip.mac, src: a.mac, seed: 99, blank: true });
  const got = await exchange([item(f, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4, 1448)], 1);
  assert.equal(got[0].gsoType, XEN_NETIF_GSO_TYPE_TCPV4);
  assert.equal(got[0].gsoSize, 1448);
  assert.equal(firstDiff(got[0].bytes!, f), -1);
});
