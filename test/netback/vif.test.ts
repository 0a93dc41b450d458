import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  ringHead,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetFlags,
  slotSetLen,
} from "../../src/netmap/layout.js";
import { nmRingAdvance, nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { ValeFrags } from "../../src/vale/frags.js";
import { sharedMem } from "../../src/wire/mem.js";
import {
  NETIF_RSP_ERROR,
  NETIF_RSP_OKAY,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  NETTXF_extra_info,
  NETTXF_more_data,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
  XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
} from "../../src/wire/xen/netif.js";
import { countGcs } from "../wire/net/fixtures.js";
import { buildFrame, checksumsOk, headerLen, MAC_BCAST, macOf, seqOf } from "./frames.js";
import { type RxFrame, type SendOpts, TestFront } from "./front-sim.js";
import { ALL_FEATURES, type Guest, NO_FEATURES, OneThread } from "./harness.js";

/** Sends one frame from `a` (published, Domain-0 kicked) and collects what `b` got. */
function send(a: Guest, frame: Uint8Array, o: SendOpts = {}): void {
  assert.ok(a.front.send(frame, o), "TX ring has room");
  a.front.pushTx();
  a.kick();
  a.front.reapTx();
}

function collect(g: Guest): RxFrame[] {
  const out: RxFrame[] = [];
  g.front.receive(out);
  g.kick();
  return out;
}

/** Two guests on one switch, each having announced its MAC (so unicast is learnt). */
function pair(fa = ALL_FEATURES, fb = ALL_FEATURES, extra?: () => void) {
  const t = new OneThread(1024);
  const a = t.addGuest(fa);
  const b = t.addGuest(fb);
  extra?.();
  for (const g of t.guests) {
    g.front.postRx();
    g.kick();
  }
  for (const g of t.guests) send(g, buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 60 }));
  t.runDeferred();
  for (const g of t.guests) collect(g);
  return { t, a, b };
}

const SIZES = [60, 64, 127, 128, 129, 200, 1514, 4095, 4096, 4097, 9000, 16384, 32768, 60000, 65535];

test("A -> VALE -> B: frames of 60 B to 64 KiB over SG arrive intact, every request answered OKAY, no mapping left", () => {
  const { t, a, b } = pair();
  a.front.reapTx();
  const before = a.front.txAnswered;
  const mapsBefore = t.liveMappings;
  let seq = 0;
  for (const len of SIZES) {
    for (const slotBytes of [4096, 4000]) {
      const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len, seq: seq++ });
      send(a, f, { slotBytes, offset: slotBytes === 4000 ? 100 : 0 });
      const got = collect(b);
      assert.equal(got.length, 1, `one frame of ${len} (slots of ${slotBytes})`);
      assert.deepEqual(got[0].data, f, `frame of ${len} intact`);
      assert.equal(t.liveMappings, mapsBefore, "every TX mapping ended once delivered");
    }
  }
  a.front.reapTx();
  assert.equal(a.front.txStatus.get(NETIF_RSP_ERROR) ?? 0, 0);
  assert.ok(a.front.txAnswered - before >= SIZES.length * 2, "every TX request answered");
  const ca = a.vif.queueCounters()[0].snapshot();
  const cb = b.vif.queueCounters()[0].snapshot();
  // Linux's direction: A's vif received what A sent, B's vif sent it on to B.
  assert.equal(ca.rx_packets, SIZES.length * 2 + 1);
  assert.equal(cb.tx_packets, SIZES.length * 2 + 1);
  assert.equal(ca.tx_packets, 1, "A heard B's announcement only");
  assert.ok(ca.tx_zerocopy_sent >= 20, "payloads past the header went by reference");
  assert.equal(t.liveMappings, 4, "only the four ring mappings are left");
});

test("GSO: a superframe goes out with its extra to a guest that negotiated it, csum_blank kept", () => {
  const { a, b } = pair();
  for (const v6 of [false, true]) {
    const f = buildFrame({
      dst: macOf(b.domid),
      src: macOf(a.domid),
      len: 60000,
      tcp: true,
      v6,
      blank: true,
    });
    const gsoType = v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4;
    send(a, f, { flags: NETTXF_csum_blank, gsoType, gsoSize: 1448 });
    const got = collect(b);
    assert.equal(got.length, 1);
    assert.equal(got[0].gsoType, gsoType);
    assert.equal(got[0].gsoSize, 1448);
    assert.equal(
      got[0].flags & (NETRXF_csum_blank | NETRXF_data_validated),
      NETRXF_csum_blank | NETRXF_data_validated,
    );
    assert.deepEqual(got[0].data, f);
  }
});

test("software GSO for a guest without GSO: MSS-sized segments with correct checksums, payload in order", () => {
  const { a, b } = pair(ALL_FEATURES, { ...ALL_FEATURES, gsoTcpv4: false, gsoTcpv6: false });
  for (const v6 of [false, true]) {
    const len = 30000;
    const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len, tcp: true, v6, blank: true });
    const mss = 1000;
    send(a, f, {
      flags: NETTXF_csum_blank,
      gsoType: v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4,
      gsoSize: mss,
    });
    const got = collect(b);
    const hl = headerLen({ v6, tcp: true });
    assert.equal(got.length, Math.ceil((len - hl) / mss));
    let payload = 0;
    for (const s of got) {
      assert.equal(s.gsoType, 0);
      assert.ok(checksumsOk(s.data), "segment checksums are right");
      assert.ok(s.data.length <= hl + mss);
      assert.deepEqual(s.data.subarray(hl), f.subarray(hl + payload, hl + payload + s.data.length - hl));
      payload += s.data.length - hl;
    }
    assert.equal(payload, len - hl);
  }
});

test("checksum flags: blank kept for a guest that takes it, completed for one that does not; data_validated passed on", () => {
  const t = new OneThread(1024);
  const a = t.addGuest();
  const yes = t.addGuest(ALL_FEATURES);
  const no = t.addGuest({ ...ALL_FEATURES, csumOffload: false });
  for (const g of t.guests) {
    g.front.postRx();
    g.kick();
  }
  for (const tcp of [false, true]) {
    const f = buildFrame({ dst: MAC_BCAST, src: macOf(a.domid), len: 700, tcp, blank: true });
    assert.ok(!checksumsOk(f), "the sender left the checksum blank");
    send(a, f, { flags: NETTXF_csum_blank });
    const y = collect(yes);
    const n = collect(no);
    assert.equal(y.length, 1);
    assert.equal(y[0].flags & 3, NETRXF_csum_blank | NETRXF_data_validated);
    assert.deepEqual(y[0].data, f);
    assert.equal(n.length, 1);
    assert.equal(n[0].flags & 3, 0);
    assert.ok(checksumsOk(n[0].data), "checksum completed for the guest without offload");
  }
  const v = buildFrame({ dst: MAC_BCAST, src: macOf(a.domid), len: 300 });
  send(a, v, { flags: NETTXF_data_validated });
  assert.equal(collect(yes)[0].flags & 3, NETRXF_data_validated);
  assert.equal(collect(no)[0].flags & 3, NETRXF_data_validated);
  assert.ok(no.vif.queueCounters()[0].get("rx_gso_checksum_fixup") >= 2);
});

test("a guest without SG gets frames up to a page; a larger one is dropped and counted", () => {
  const { a, b } = pair(ALL_FEATURES, NO_FEATURES);
  const ok = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 4000 });
  send(a, ok);
  assert.deepEqual(collect(b)[0].data, ok);
  send(a, buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 5000 }));
  assert.equal(collect(b).length, 0);
  assert.equal(b.vif.queueCounters()[0].get("tx_dropped"), 1);
});

test("a guest that posts no RX buffers: its frames wait in a bounded backlog then drop, counted; the other pair is unaffected", () => {
  const t = new OneThread(1024);
  const a = t.addGuest();
  const b = t.addGuest();
  const c = t.addGuest(ALL_FEATURES, { rxBacklogBytes: 16 * 1024 });
  for (const g of [a, b]) {
    g.front.postRx();
    g.kick();
  }
  for (const g of t.guests) send(g, buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 60 }));
  collect(a);
  collect(b);
  let seq = 0;
  for (let i = 0; i < 200; i++) {
    send(a, buildFrame({ dst: macOf(c.domid), src: macOf(a.domid), len: 1000, seq: 1000 + i }));
    const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 500, seq: seq++ });
    send(a, f);
    const got = collect(b);
    assert.equal(got.length, 1, "b keeps receiving");
    assert.equal(seqOf(got[0].data), seq - 1);
  }
  const cc = c.vif.queueCounters()[0];
  const queued = c.vif.rxBacklog(0);
  assert.ok(queued.bytes <= 16 * 1024 && queued.frames > 0, "backlog within its bound");
  // The announcements of a and b plus 200 frames: what is not queued was dropped and counted.
  assert.equal(cc.get("tx_dropped"), 202 - queued.frames);
  assert.ok(t.sw.ports().length === 3);
  // Once c posts, the backlog drains in order.
  c.front.postRx();
  c.kick();
  const got = collect(c);
  assert.equal(got.length, queued.frames);
  // The announcements of a and b came first, then a's frames in the order sent.
  const seqs = got.map((g) => seqOf(g.data));
  assert.deepEqual(seqs.slice(0, 2), [0, 0]);
  for (let i = 3; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1);
  assert.equal(seqs[2], 1000);
  assert.equal(c.vif.rxBacklog(0).frames, 0);
});

test("a fatal request disables only its vif, with a reason; the other pair keeps passing traffic", () => {
  const t = new OneThread(1024);
  const a = t.addGuest();
  const b = t.addGuest();
  const evil = t.addGuest();
  for (const g of t.guests) {
    g.front.postRx();
    g.kick();
  }
  // A fragment crossing its page: Linux's "Cross page boundary" fatal error.
  evil.front.rawTx(0, 0, NETTXF_more_data, 3000);
  evil.front.rawTx(1, 3000, 0, 2000);
  evil.front.pushTx();
  evil.kick();
  assert.equal(evil.fatal.length, 1);
  assert.match(evil.fatal[0], /Cross page boundary/);
  assert.equal(evil.vif.disabled, true);
  assert.equal(evil.vif.queueCounters()[0].get("tx_fatal"), 1);
  // More from the disabled vif goes nowhere and calls nobody again.
  send(evil, buildFrame({ dst: MAC_BCAST, src: macOf(evil.domid), len: 100 }));
  assert.equal(evil.fatal.length, 1);
  const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 3000 });
  send(a, f);
  const got = collect(b);
  assert.equal(got.length, 1);
  assert.deepEqual(got[0].data, f);
  assert.equal(a.fatal.length + b.fatal.length, 0);
  assert.equal(t.liveMappings, 6, "only ring mappings remain");
});

test("dropped requests are answered ERROR (extras NULL) and the vif lives on", () => {
  const { a, b } = pair();
  a.front.reapTx();
  // A runt: first slot says 10 bytes.
  a.front.rawTx(0, 0, 0, 10);
  a.front.pushTx();
  a.kick();
  a.front.reapTx();
  assert.equal(a.front.txStatus.get(NETIF_RSP_ERROR), 1);
  assert.equal(a.vif.queueCounters()[0].get("rx_dropped"), 1);
  const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 100 });
  send(a, f);
  assert.deepEqual(collect(b)[0].data, f);
  assert.equal(a.fatal.length, 0);
  assert.ok((a.front.txStatus.get(NETIF_RSP_OKAY) ?? 0) >= 1);
});

test("multicast requests (not advertised) are answered as Linux does: 64 adds OKAY, the 65th ERROR, a delete OKAY", () => {
  const { a } = pair();
  a.front.reapTx();
  const mcast = (type: number): [number, number] => {
    const ok0 = a.front.txStatus.get(NETIF_RSP_OKAY) ?? 0;
    const err0 = a.front.txStatus.get(NETIF_RSP_ERROR) ?? 0;
    a.front.rawTx(0, 0, NETTXF_extra_info, 0);
    a.front.rawExtra(type, false);
    a.front.pushTx();
    a.kick();
    a.front.reapTx();
    return [
      (a.front.txStatus.get(NETIF_RSP_OKAY) ?? 0) - ok0,
      (a.front.txStatus.get(NETIF_RSP_ERROR) ?? 0) - err0,
    ];
  };
  for (let i = 0; i < 64; i++)
    assert.deepEqual(mcast(XEN_NETIF_EXTRA_TYPE_MCAST_ADD), [1, 0], `add ${i + 1}`);
  assert.deepEqual(mcast(XEN_NETIF_EXTRA_TYPE_MCAST_ADD), [0, 1], "the 65th add: the list is full");
  assert.deepEqual(mcast(XEN_NETIF_EXTRA_TYPE_MCAST_DEL), [1, 0]);
  assert.deepEqual(mcast(XEN_NETIF_EXTRA_TYPE_MCAST_ADD), [1, 0], "room again after a delete");
  assert.equal(a.fatal.length, 0);
});

for (const [len, most] of [
  [64, 0],
  // An MTU frame too: wire/copy.ts's word loop takes aligned copies up to 2 KiB.
  [1514, 0],
])
  test(`hot path: forwarding ${len} B frames guest to guest allocates nothing of its own (at most ${most} GCs in 100000 frames)`, async () => {
    const { a, b } = pair();
    const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len });
    let got = 0;
    // One options object for all: a default `{}` per call would be the test's own garbage.
    const o: SendOpts = {};
    const gcs = await countGcs(() => {
      a.front.send(f, o);
      a.front.pushTx();
      a.kick();
      a.front.reapTx();
      got += b.front.receiveCount();
      b.kick();
    }, 100000);
    assert.ok(gcs <= most, `${gcs} GCs`);
    assert.equal(got, 200000, "every frame arrived (warm-up and measured)");
  });

test("property: random frames, slot splits, offsets, flags and receiver features: delivered intact (or with its checksum completed), or dropped/fatal as Linux says and counted", () => {
  fc.assert(
    fc.property(
      fc.record({ sg: fc.boolean(), csum: fc.boolean() }),
      fc.array(
        fc.record({
          len: fc.integer({ min: 14, max: 65535 }),
          slotBytes: fc.oneof(fc.integer({ min: 1000, max: 4096 }), fc.integer({ min: 1, max: 4096 })),
          offset: fc.integer({ min: 0, max: 4095 }),
          flags: fc.constantFrom(0, NETTXF_csum_blank, NETTXF_data_validated),
          tcp: fc.boolean(),
          v6: fc.boolean(),
        }),
        { minLength: 1, maxLength: 10 },
      ),
      (rxf, frames) => check(rxf, frames),
    ),
    { numRuns: 60 },
  );
});

function check(
  rxf: { sg: boolean; csum: boolean },
  frames: { len: number; slotBytes: number; offset: number; flags: number; tcp: boolean; v6: boolean }[],
) {
  const { a, b } = pair(ALL_FEATURES, {
    ...ALL_FEATURES,
    sg: rxf.sg,
    csumOffload: rxf.csum,
    ipv6CsumOffload: rxf.csum,
  });
  a.front.reapTx();
  for (const [i, s] of frames.entries()) {
    const len = Math.max(s.len, headerLen(s));
    const spec = { dst: macOf(b.domid), src: macOf(a.domid), len, tcp: s.tcp, v6: s.v6, seq: i };
    const blank = s.flags === NETTXF_csum_blank;
    const f = buildFrame({ ...spec, blank });
    const o = { slotBytes: s.slotBytes, offset: s.offset, flags: s.flags };
    const slots = TestFront.slotsFor(len, o);
    const firstBytes = Math.min(s.slotBytes, 4096 - s.offset, len);
    if (!a.front.send(f, o)) continue;
    const before = a.vif.queueCounters()[0].snapshot();
    const toBDropped = b.vif.queueCounters()[0].get("tx_dropped");
    const answered = a.front.txAnswered;
    a.front.pushTx();
    a.kick();
    const got = collect(b);
    a.front.reapTx();
    const after = a.vif.queueCounters()[0].snapshot();
    if (slots - 1 > 20) {
      assert.equal(after.tx_fatal, 1, `${slots} slots is fatal`);
      assert.equal(a.fatal.length, 1);
      return;
    }
    assert.equal(a.front.txAnswered - answered, slots, "every slot answered");
    if (slots - 1 > 18 || firstBytes < 14) {
      assert.equal(after.rx_dropped - before.rx_dropped, 1, `${slots} slots, first ${firstBytes}: dropped`);
      assert.equal(got.length, 0);
    } else if (!rxf.sg && len > 4096) {
      assert.equal(got.length, 0);
      assert.equal(
        b.vif.queueCounters()[0].get("tx_dropped") - toBDropped,
        1,
        "too big for one slot: counted",
      );
    } else {
      assert.equal(got.length, 1, `frame ${i} (${len} B in ${slots} slots) delivered`);
      if (blank && !rxf.csum) {
        // Completed in Domain-0: exactly the frame with its checksum filled in.
        assert.deepEqual(got[0].data, buildFrame(spec));
        assert.equal(got[0].flags & 3, 0);
      } else {
        assert.deepEqual(got[0].data, f);
        const want = blank ? 3 : s.flags === NETTXF_data_validated ? NETRXF_data_validated : 0;
        assert.equal(got[0].flags & 3, want, `flags ${got[0].flags} for sent ${s.flags}`);
      }
    }
  }
  assert.equal(a.fatal.length, 0);
}

test("multi-queue: RX picks the queue by flow hash, the same flow always the same queue, both queues used", () => {
  const t = new OneThread(1024);
  const a = t.addGuest();
  const b = t.addGuest(ALL_FEATURES, {}, 2);
  for (const g of t.guests)
    for (const [q, fr] of g.fronts.entries()) {
      fr.postRx();
      g.kick(q);
    }
  send(b, buildFrame({ dst: MAC_BCAST, src: macOf(b.domid), len: 60 }));
  const perFlow = new Map<number, Set<number>>();
  for (let round = 0; round < 3; round++)
    for (let sport = 1000; sport < 1032; sport++) {
      send(a, buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 200, sport }));
      for (const [q, fr] of b.fronts.entries()) {
        const out: RxFrame[] = [];
        fr.receive(out);
        b.kick(q);
        if (out.length > 0) perFlow.set(sport, (perFlow.get(sport) ?? new Set()).add(q));
      }
    }
  assert.equal(perFlow.size, 32, "every flow delivered");
  for (const [sport, qs] of perFlow) assert.equal(qs.size, 1, `flow ${sport} stays on one queue`);
  const used = new Set([...perFlow.values()].flatMap((s) => [...s]));
  assert.deepEqual([...used].sort(), [0, 1], "both queues carry flows");
  const c = b.vif.queueCounters();
  assert.equal(c.length, 2);
  assert.equal(c[0].get("tx_packets") + c[1].get("tx_packets"), 96);
});

test("netmap mode: the vif's guest frames land in its netmap RX ring, frames put in its TX ring reach the guest", () => {
  const t = new OneThread(1024);
  const g = t.addGuest();
  g.front.postRx();
  g.kick();
  const np = g.vif.openNetmap();
  const cfg = g.vif.config();
  assert.equal(cfg.txRings, 1);
  const f = buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 3000 });
  send(g, f);
  np.rxsync();
  const m = np.mem;
  const r = np.rx[0].r;
  const n = nmRingSpace(m, r);
  assert.equal(n, Math.ceil(3000 / np.region.bufSize));
  const got: number[] = [];
  let h = ringHead(m, r);
  for (let i = 0; i < n; i++) {
    const s = ringSlot(r, h);
    const off = np.region.bufOff(slotBufIdx(m, s));
    got.push(...m.u8.subarray(off, off + slotLen(m, s)));
    h = nmRingNext(np.rx[0].numSlots, h);
  }
  assert.deepEqual(Uint8Array.from(got), f);
  nmRingAdvance(m, r, h);
  np.rxsync();
  // The other way: one 1500-byte frame from the netmap user to the guest.
  const back = buildFrame({ dst: macOf(g.domid), src: macOf(9), len: 1500 });
  const tr = np.tx[0].r;
  const ts = ringSlot(tr, ringHead(m, tr));
  m.u8.set(back, np.region.bufOff(slotBufIdx(m, ts)));
  slotSetLen(m, ts, back.length);
  slotSetFlags(m, ts, 0);
  nmRingAdvance(m, tr, nmRingNext(np.tx[0].numSlots, ringHead(m, tr)));
  np.txsync();
  const rx: RxFrame[] = [];
  g.front.receive(rx);
  assert.equal(rx.length, 1);
  assert.deepEqual(rx[0].data, back);
  // In netmap mode the switch's frames do not reach the guest; out of it they do again.
  const mem = sharedMem(4096);
  mem.u8.set(back, 0);
  const vf = new ValeFrags(mem);
  vf.push(mem, 0, back.length);
  assert.equal(g.vif.deliverFrags(vf), false);
  np.close();
  assert.equal(g.vif.deliverFrags(vf), true);
  g.vif.rxIrq();
  g.front.receive(rx);
  assert.equal(rx.length, 2);
});
