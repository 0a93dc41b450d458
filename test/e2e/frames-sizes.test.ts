/**
 * Frames through the whole chain, netfront -> netback -> VALE -> netback -> netfront, with
 * the real xenbus handshake: every size class byte for byte, GSO superframes kept whole for
 * a receiver that negotiated GSO and cut into valid segments for one that did not, and the
 * checksum flags: a blank checksum reaches an offloading receiver as csum_blank|
 * data_validated and a receiver without checksum offload with the checksum completed.
 *
 * guest1 sends; guest2 takes everything (sg, GSO, checksum offload); guest3 has sg but
 * neither GSO nor checksum offload.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
} from "../../src/wire/xen/netif.js";
import {
  buildFrame,
  checkOffset,
  checkSegments,
  type FrameKind,
  firstDiff,
  l4ChecksumOk,
  withoutCheck,
} from "./frames.js";
import { Chain, type ChainGuest, until } from "./harness.js";
import type { SendItem } from "./programs/chain-guest.js";

let chain: Chain;
let a: ChainGuest;
let full: ChainGuest;
let plain: ChainGuest;

before(async () => {
  chain = await Chain.boot([{}, {}, { gso: false, csum: false }]);
  [a, full, plain] = chain.guests;
  await chain.hello();
});
after(async () => {
  await chain?.shutdown();
});

const SIZES = [60, 61, 127, 128, 129, 1514, 4095, 4096, 4097, 9000, 32768, 65535];

/** Sends `items` from guest1 to `to` and waits for `frames` records there. */
async function exchange(to: ChainGuest, items: SendItem[], frames: number) {
  await chain.clear(to);
  const c0 = chain.back(to).tx_dropped;
  await chain.send(a, items);
  await until(`${frames} frames at guest${to.domid}`, 5000, () => chain.rxCount(to) >= frames);
  // Nothing more arrives: no duplicates, no extra segments.
  await new Promise((r) => setTimeout(r, 30));
  const got = chain.received(to);
  assert.equal(got.length, frames, "frames received");
  assert.equal(chain.back(to).tx_dropped - c0, 0, "tx_dropped (to the receiver)");
  return got;
}

const item = (bytes: Uint8Array, flags = 0, gsoType = 0, gsoSize = 0): SendItem => ({
  bytes,
  flags,
  gsoType,
  gsoSize,
  repeat: 1,
});

for (const [name, to] of [
  ["a receiver with sg, GSO and csum offload", () => full],
  ["a receiver with sg only", () => plain],
] as const) {
  test(`every size class 60 B..64 KiB reaches ${name} byte for byte, in order`, async () => {
    const kinds: FrameKind[] = ["raw", "udp4"];
    const frames = SIZES.flatMap((len, i) =>
      kinds.map((kind, k) => buildFrame({ kind, len, dst: to().mac, src: a.mac, seed: i * 10 + k + 1 })),
    );
    const got = await exchange(
      to(),
      frames.map((f) => item(f)),
      frames.length,
    );
    got.forEach((r, i) => {
      const want = frames[i];
      assert.ok(r.bytes !== null);
      assert.equal(r.len, want.length, `frame ${i} length`);
      assert.equal(
        firstDiff(r.bytes, want),
        -1,
        `frame ${i} (${want.length} B) differs at ${firstDiff(r.bytes, want)}`,
      );
      assert.deepEqual([r.flags, r.gsoType, r.gsoSize], [0, 0, 0], `frame ${i} flags`);
    });
  });
}

const GSO_CASES: { kind: FrameKind; len: number; mss: number }[] = [
  { kind: "tcp4", len: 65535, mss: 1448 },
  { kind: "tcp4", len: 9000, mss: 1448 },
  { kind: "tcp4", len: 3000, mss: 1460 },
  { kind: "tcp6", len: 65535, mss: 1440 },
  { kind: "tcp6", len: 20000, mss: 8000 },
  { kind: "tcp4", len: 1000, mss: 1448 },
];

const gsoType = (kind: FrameKind): number =>
  kind === "tcp4" ? XEN_NETIF_GSO_TYPE_TCPV4 : XEN_NETIF_GSO_TYPE_TCPV6;

test("GSO TCPv4/v6 superframes reach a GSO receiver whole, with their GSO type and MSS", async () => {
  const frames = GSO_CASES.map((c, i) =>
    buildFrame({ kind: c.kind, len: c.len, dst: full.mac, src: a.mac, seed: 100 + i, blank: true }),
  );
  const got = await exchange(
    full,
    GSO_CASES.map((c, i) => item(frames[i], NETTXF_csum_blank, gsoType(c.kind), c.mss)),
    frames.length,
  );
  got.forEach((r, i) => {
    assert.ok(r.bytes !== null);
    assert.equal(firstDiff(r.bytes, frames[i]), -1, `superframe ${i} differs`);
    assert.deepEqual(
      [r.gsoType, r.gsoSize, r.flags],
      [gsoType(GSO_CASES[i].kind), GSO_CASES[i].mss, NETRXF_csum_blank | NETRXF_data_validated],
      `superframe ${i} meta`,
    );
  });
});

test("GSO TCPv4/v6 superframes reach a receiver without GSO as valid, checksummed segments", async () => {
  const frames = GSO_CASES.map((c, i) =>
    buildFrame({ kind: c.kind, len: c.len, dst: plain.mac, src: a.mac, seed: 200 + i, blank: true }),
  );
  const counts = GSO_CASES.map((c) => Math.ceil((c.len - (c.kind === "tcp4" ? 54 : 74)) / c.mss));
  const total = counts.reduce((s, n) => s + n, 0);
  const got = await exchange(
    plain,
    GSO_CASES.map((c, i) => item(frames[i], NETTXF_csum_blank, gsoType(c.kind), c.mss)),
    total,
  );
  let at = 0;
  GSO_CASES.forEach((c, i) => {
    const segs = got.slice(at, at + counts[i]);
    at += counts[i];
    for (const s of segs) {
      assert.equal(s.gsoType, 0);
      assert.equal(s.flags & NETRXF_csum_blank, 0, "no blank checksum for a receiver without offload");
    }
    const why = checkSegments(
      frames[i],
      segs.map((s) => s.bytes as Uint8Array),
      c.mss,
    );
    assert.equal(why, null, `superframe ${i} (${c.kind} ${c.len} B, mss ${c.mss})`);
  });
});

const CSUM_KINDS: FrameKind[] = ["udp4", "tcp4", "udp6", "tcp6"];
const CSUM_LENS = [80, 1514, 9000];

test("csum_blank reaches a checksum-offloading receiver as csum_blank|data_validated, untouched", async () => {
  const frames = CSUM_KINDS.flatMap((kind, k) =>
    CSUM_LENS.map((len, i) =>
      buildFrame({ kind, len, dst: full.mac, src: a.mac, seed: 300 + k * 10 + i, blank: true }),
    ),
  );
  const validated = buildFrame({ kind: "udp4", len: 200, dst: full.mac, src: a.mac, seed: 399 });
  const got = await exchange(
    full,
    [...frames.map((f) => item(f, NETTXF_csum_blank)), item(validated, NETTXF_data_validated)],
    frames.length + 1,
  );
  got.forEach((r, i) => {
    const want = i < frames.length ? frames[i] : validated;
    assert.ok(r.bytes !== null);
    assert.equal(firstDiff(r.bytes, want), -1, `frame ${i} differs`);
    assert.equal(
      r.flags,
      i < frames.length ? NETRXF_csum_blank | NETRXF_data_validated : NETRXF_data_validated,
      `frame ${i} flags`,
    );
  });
});

test("csum_blank reaches a receiver without checksum offload with a completed, correct checksum", async () => {
  const frames = CSUM_KINDS.flatMap((kind, k) =>
    CSUM_LENS.map((len, i) =>
      buildFrame({ kind, len, dst: plain.mac, src: a.mac, seed: 400 + k * 10 + i, blank: true }),
    ),
  );
  const got = await exchange(
    plain,
    frames.map((f) => item(f, NETTXF_csum_blank)),
    frames.length,
  );
  got.forEach((r, i) => {
    const want = frames[i];
    assert.ok(r.bytes !== null);
    assert.equal(r.flags & NETRXF_csum_blank, 0, `frame ${i} still blank`);
    assert.ok(l4ChecksumOk(r.bytes), `frame ${i} (${want.length} B): checksum wrong`);
    // Only the checksum field changed.
    assert.equal(firstDiff(withoutCheck(r.bytes), withoutCheck(want)), -1, `frame ${i} differs`);
    const c = checkOffset(want);
    assert.notDeepEqual(
      [...r.bytes.subarray(c, c + 2)],
      [...want.subarray(c, c + 2)],
      "checksum not filled in",
    );
  });
});
