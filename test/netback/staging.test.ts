import assert from "node:assert/strict";
import { test } from "node:test";
import { PAGE_SIZE } from "../../src/hv/memory.js";
import { RssHasher, symmetricRssKey } from "../../src/wire/net/rss.js";
import {
  XEN_NETIF_CTRL_STATUS_SUCCESS as OK,
  XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
  XEN_NETIF_CTRL_HASH_TYPE_IPV4,
  XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
  XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
  XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
  XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
  XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
  XEN_NETIF_CTRLF_GREF_readonly,
} from "../../src/wire/xen/netif-ctrl.js";
import { buildFrame, MAC_BCAST, macOf, seqOf } from "./frames.js";
import type { RxFrame } from "./front-sim.js";
import { ALL_FEATURES, type Guest, OneThread } from "./harness.js";

function page(g: Guest, bytes: Uint8Array): number {
  const p = g.alloc();
  g.mem.u8.set(bytes, p * PAGE_SIZE);
  return g.grants.grantAccess(0, p, false);
}

/** Registers queue q's TX (read-only) and RX pool grants as staging grants. */
function stage(g: Guest, q = 0): void {
  const { tx, rx } = g.fronts[q].poolRefs;
  const list = new Uint8Array((tx.length + rx.length) * 8);
  const dv = new DataView(list.buffer);
  [...tx, ...rx].forEach((ref, i) => {
    dv.setUint32(i * 8, ref, true);
    dv.setUint16(i * 8 + 4, i < tx.length ? XEN_NETIF_CTRLF_GREF_readonly : 0, true);
  });
  const r = g.ctrlReq(XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, q, page(g, list), tx.length + rx.length);
  assert.equal(r.status, OK);
}

/** Counts Domain-0's grant copies and maps from now on. */
function countGrantOps(t: OneThread): { copies: number; maps: number } {
  const n = { copies: 0, maps: 0 };
  const gnt = t.dom0.gnt as unknown as Record<string, (...a: unknown[]) => number>;
  const copy = gnt.copy.bind(gnt);
  const map = gnt.map.bind(gnt);
  gnt.copy = (...a) => {
    n.copies++;
    return copy(...a);
  };
  gnt.map = (...a) => {
    n.maps++;
    return map(...a);
  };
  return n;
}

function rig(stageA: boolean, stageB: boolean, queuesB = 1) {
  const t = new OneThread(1024);
  const a = t.addGuest(ALL_FEATURES, {}, 1, { staging: true });
  const b = t.addGuest(ALL_FEATURES, {}, queuesB, { staging: true });
  if (stageA) stage(a);
  if (stageB) for (let q = 0; q < queuesB; q++) stage(b, q);
  for (const g of t.guests) {
    for (let q = 0; q < g.fronts.length; q++) {
      g.fronts[q].postRx();
      g.kick(q);
    }
  }
  for (const g of t.guests) {
    g.front.send(buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 60 }));
    g.front.pushTx();
    g.kick();
  }
  t.runDeferred();
  for (const g of t.guests)
    for (let q = 0; q < g.fronts.length; q++) {
      g.fronts[q].receive([]);
      g.kick(q);
    }
  return { t, a, b };
}

const SIZES = [60, 128, 129, 200, 1500, 4096, 9000];

for (const [sa, sb] of [
  [true, true],
  [true, false],
  [false, true],
] as const) {
  test(`staging: sender ${sa ? "staged" : "grant-copied"}, receiver ${sb ? "staged" : "grant-copied"}: every size arrives intact`, () => {
    const { t, a, b } = rig(sa, sb);
    const ops = countGrantOps(t);
    for (const [i, len] of SIZES.entries()) {
      const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len, seq: i });
      assert.ok(a.front.send(f));
      a.front.pushTx();
      a.kick();
      a.front.reapTx();
      const out: RxFrame[] = [];
      b.front.receive(out);
      b.kick();
      assert.equal(out.length, 1, `${len} B delivered`);
      assert.deepEqual(out[0].data, f, `${len} B intact`);
      assert.equal(seqOf(out[0].data), i);
    }
    if (sa && sb) assert.deepEqual(ops, { copies: 0, maps: 0 }, "no grant operation per frame");
    else assert.ok(ops.copies > 0, "the unstaged end still takes grant copies");
    assert.deepEqual(a.fatal, []);
    assert.deepEqual(b.fatal, []);
  });
}

test("steering: each flow lands on the RX queue the frontend's mapping names, its hash in an extra slot", () => {
  const { a, b } = rig(false, false, 2);
  const r = b.ctrlReq;
  const key = symmetricRssKey(40);
  const mapping = [1, 0, 0, 1, 1, 1, 0, 0];
  assert.equal(r(XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ).status, OK);
  const flags = XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
  assert.equal(r(XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, flags).status, OK);
  assert.equal(r(XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, page(b, key), 40).status, OK);
  assert.equal(r(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 8).status, OK);
  const tbl = page(b, new Uint8Array(Uint32Array.from(mapping).buffer));
  assert.equal(r(XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, tbl, 8, 0).status, OK);
  const h = new RssHasher();
  h.setKey(key);
  h.flags = flags;
  const seen = [0, 0];
  for (let sport = 1000; sport < 1040; sport++) {
    const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 80, tcp: true, sport });
    assert.ok(h.hash(f, 0, f.length));
    const want = mapping[h.value % 8];
    assert.ok(a.front.send(f));
    a.front.pushTx();
    a.kick();
    a.front.reapTx();
    const got = [0, 1].map((q) => {
      const out: RxFrame[] = [];
      b.fronts[q].receive(out);
      b.kick(q);
      return out;
    });
    assert.deepEqual(
      got.map((o) => o.length),
      want === 0 ? [1, 0] : [0, 1],
      `sport ${sport}: queue ${want}`,
    );
    // The hash travels with the frame, in a HASH extra-info slot.
    assert.deepEqual(got[want]![0]!.hash, {
      type: h.type,
      algorithm: XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
      value: h.value,
    });
    assert.deepEqual(got[want]![0]!.data, f);
    seen[want]++;
  }
  assert.ok(seen[0] > 0 && seen[1] > 0, "both queues used");
});

test("hash extra: a GSO frame carries both extras (GSO with MORE, then HASH) and arrives whole", () => {
  const { a, b } = rig(false, false, 1);
  const r = b.ctrlReq;
  assert.equal(r(XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ).status, OK);
  assert.equal(r(XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP).status, OK);
  const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 9000, tcp: true, sport: 7 });
  assert.ok(a.front.send(f, { gsoType: 1, gsoSize: 1448, flags: 1 }));
  a.front.pushTx();
  a.kick();
  a.front.reapTx();
  const out: RxFrame[] = [];
  b.front.receive(out);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.gsoType, 1);
  assert.equal(out[0]!.hash?.type, 1, "IPv4+TCP");
  assert.equal(out[0]!.hash?.value, 0, "an empty key hashes to 0");
  assert.equal(out[0]!.data.length, f.length);
});
