/**
 * VALE's software offloads for ports without them: a frame with offload state (a TCP GSO
 * superframe, a blank checksum) goes whole to a port that takes offloads and as
 * MSS-sized, fully checksummed segments to one that does not, per destination. Segments
 * are checked with test/netback/frames.ts's checksum code, which shares nothing with
 * src/wire/net.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  NETMAP_MAX_FRAGS,
  NS_MOREFRAG,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotFlags,
  slotLen,
} from "../../src/netmap/layout.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext, nmRingSpace } from "../../src/netmap/ring.js";
import { VALE_F_CSUM_BLANK, VALE_F_DATA_VALID, ValeFrags } from "../../src/vale/frags.js";
import { ValePort } from "../../src/vale/port.js";
import { OFFLOAD_COUNTERS_BYTES, readOffloadCounters, SOFT_SEG_MAX } from "../../src/vale/soft-offload.js";
import { portCounters, type ValeAttachment, ValeSwitch } from "../../src/vale/switch.js";
import { type Mem, privateMem, sharedMem } from "../../src/wire/mem.js";
import {
  NETIF_RSP_OKAY,
  NETTXF_csum_blank,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
} from "../../src/wire/xen/netif.js";
import { buildFrame, checksumsOk, macOf } from "../netback/frames.js";
import { ALL_FEATURES, OneThread } from "../netback/harness.js";
import { countGcs } from "../wire/net/fixtures.js";

const A = [2, 0, 0, 0, 0, 0xa];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

interface Got {
  data: Uint8Array;
  flags: number;
  gsoType: number;
  gsoSize: number;
}

/** A port taking frames by reference (a vif or the VXLAN uplink's kind), recording copies. */
function refPort(sw: ValeSwitch, name: string, takesOffloads: boolean, keep = true) {
  const got: Got[] = [];
  let count = 0;
  const scratch = sharedMem(1 << 17);
  const p: ValeAttachment = {
    name,
    get region(): never {
      throw new Error("a by-reference port has no ring region");
    },
    counters: portCounters(),
    rxKring: () => null,
    rxIrq: () => {},
    takesOffloads,
    deliverFrags: (f: ValeFrags) => {
      count++;
      if (!keep) return true;
      f.copyOut(0, scratch, 0, f.total);
      got.push({
        data: scratch.u8.slice(0, f.total),
        flags: f.flags,
        gsoType: f.gsoType,
        gsoSize: f.gsoSize,
      });
      return true;
    },
  };
  const index = sw.attach(p);
  return { index, got, port: p, count: () => count };
}

/** Every frame waiting on a ring port's RX ring (NS_MOREFRAG chains joined). */
function drain(np: NetmapPort): Uint8Array[] {
  np.rxsync();
  const m = np.mem;
  const r = np.rx[0].r;
  const out: Uint8Array[] = [];
  let cur: number[] = [];
  let h = ringHead(m, r);
  for (let n = nmRingSpace(m, r); n > 0; n--) {
    const s = ringSlot(r, h);
    const off = np.region.bufOff(slotBufIdx(m, s));
    cur.push(...m.u8.subarray(off, off + slotLen(m, s)));
    if ((slotFlags(m, s) & NS_MOREFRAG) === 0) {
      out.push(Uint8Array.from(cur));
      cur = [];
    }
    h = nmRingNext(np.rx[0].numSlots, h);
  }
  ringSetHead(m, r, h);
  ringSetCur(m, r, h);
  return out;
}

/** The frame in `mem` split into fragments of at most `piece` bytes, as netback's TX makes them. */
function fragsOf(mem: Mem, frame: Uint8Array, piece: number): ValeFrags {
  mem.u8.set(frame, 0);
  const f = new ValeFrags(mem);
  const step = Math.max(piece, Math.ceil(frame.length / NETMAP_MAX_FRAGS));
  for (let at = 0; at < frame.length; at += step)
    assert.ok(f.push(mem, at, Math.min(step, frame.length - at)));
  return f;
}

const u16 = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number): number =>
  ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/** A TCP superframe (payload `len` bytes total frame) from frames.ts with seq, id and flags set. */
function superframe(v6: boolean, len: number, seq: number, id: number, flags: number): Uint8Array {
  const b = buildFrame({ dst: BCAST, src: A, len, v6, tcp: true, blank: true });
  const tcp = 14 + (v6 ? 40 : 20);
  b[tcp + 4] = seq >>> 24;
  b[tcp + 5] = (seq >>> 16) & 0xff;
  b[tcp + 6] = (seq >>> 8) & 0xff;
  b[tcp + 7] = seq & 0xff;
  b[tcp + 13] = flags;
  if (!v6) {
    b[14 + 4] = id >>> 8;
    b[14 + 5] = id & 0xff;
  }
  return b;
}

/** Checks `segs` are `frame` cut by `mss` as Linux's GSO cuts it; throws with the reason. */
function checkSegments(frame: Uint8Array, segs: Uint8Array[], v6: boolean, mss: number): void {
  const hdr = 14 + (v6 ? 40 : 20) + 20;
  const tcp = hdr - 20;
  const payload = frame.subarray(hdr);
  assert.equal(segs.length, Math.max(1, Math.ceil(payload.length / mss)));
  const seq0 = u32(frame, tcp + 4);
  const id0 = u16(frame, 14 + 4);
  const flags = frame[tcp + 13];
  const joined: number[] = [];
  segs.forEach((s, i) => {
    assert.ok(checksumsOk(s), `segment ${i}: checksums`);
    assert.deepEqual(s.subarray(0, 14), frame.subarray(0, 14), "Ethernet header unchanged");
    const l4Len = s.length - hdr + 20;
    if (v6) assert.equal(u16(s, 14 + 4), l4Len, "IPv6 payload length");
    else {
      assert.equal(u16(s, 14 + 2), s.length - 14, "IPv4 total length");
      assert.equal(u16(s, 14 + 4), (id0 + i) & 0xffff, "IPv4 id");
    }
    assert.equal(u32(s, tcp + 4), (seq0 + i * mss) >>> 0, "TCP seq");
    // FIN and PSH on the last segment only, CWR on the first only.
    let want = flags;
    if (i !== segs.length - 1) want &= ~0x09;
    if (i !== 0) want &= ~0x80;
    assert.equal(s[tcp + 13], want, `segment ${i}: TCP flags`);
    assert.ok(s.length - hdr <= mss);
    joined.push(...s.subarray(hdr));
  });
  assert.deepEqual(Uint8Array.from(joined), payload, "payloads concatenate to the original");
}

test("a TCP superframe flooded: whole with its GSO state to a port with offloads, MSS segments with checksums to those without, worked out once", () => {
  const sw = new ValeSwitch("vale0");
  const src = new ValePort(sw, "src", 64);
  const vif = refPort(sw, "vif", true);
  const vx = refPort(sw, "vxlan", false);
  const ring = new ValePort(sw, "ring", 256);
  const np = ring.open();
  const mss = 1448;
  const frame = superframe(false, 14 + 20 + 20 + 3 * mss, 0xfffff000, 0xfffe, 0x18);
  const f = fragsOf(sharedMem(1 << 17), frame, 1000);
  f.flags = VALE_F_CSUM_BLANK;
  f.gsoType = XEN_NETIF_GSO_TYPE_TCPV4;
  f.gsoSize = mss;
  sw.forwardFrags(src.index, f);
  sw.flush();
  assert.equal(vif.got.length, 1);
  assert.deepEqual(vif.got[0]!.data, frame, "the offload port gets the superframe as sent");
  assert.equal(vif.got[0]!.gsoSize, mss);
  assert.equal(vif.got[0]!.flags, VALE_F_CSUM_BLANK);
  assert.equal(vx.got.length, 3);
  for (const g of vx.got) {
    assert.equal(g.gsoType, 0);
    assert.equal(g.flags, VALE_F_DATA_VALID);
  }
  checkSegments(
    frame,
    vx.got.map((g) => g.data),
    false,
    mss,
  );
  const onRing = drain(np);
  checkSegments(frame, onRing, false, mss);
  assert.equal(ring.counters.get("rxPackets"), 3);
  assert.equal(sw.softOffload.counters.get("gsoFrames"), 1, "segmented once for both ports");
  assert.equal(sw.softOffload.counters.get("gsoSegments"), 3);
  assert.equal(sw.softOffload.counters.get("offloadDrops"), 0);
});

test("blank UDP and TCP checksums are filled for ports without offloads (IPv4 and IPv6); frames without offload state pass untouched", () => {
  const sw = new ValeSwitch("vale0");
  const src = refPort(sw, "src", true);
  const vif = refPort(sw, "vif", true);
  const tap = refPort(sw, "tap", false);
  const mem = sharedMem(1 << 16);
  const cases = [
    { v6: false, tcp: false },
    { v6: true, tcp: false },
    { v6: false, tcp: true },
    { v6: true, tcp: true },
  ];
  for (const c of cases) {
    const frame = buildFrame({ dst: BCAST, src: A, len: 300, ...c, blank: true });
    assert.ok(!checksumsOk(frame), "built with the pseudo-header sum only");
    const f = fragsOf(mem, frame, 100);
    f.flags = VALE_F_CSUM_BLANK;
    sw.forwardFrags(src.index, f);
    const got = tap.got.at(-1)!;
    assert.ok(checksumsOk(got.data), `${JSON.stringify(c)}: checksum filled`);
    assert.deepEqual(got.data.subarray(0, 40), frame.subarray(0, 40));
    assert.deepEqual(vif.got.at(-1)!.data, frame, "the offload port gets it blank");
  }
  assert.equal(sw.softOffload.counters.get("csumFilled"), 4);
  // No offload state: delivered as it is, even with a wrong checksum (nothing is inspected).
  const plain = buildFrame({ dst: BCAST, src: A, len: 200, tcp: false, blank: true });
  sw.forwardFrags(src.index, fragsOf(mem, plain, 200));
  assert.deepEqual(tap.got.at(-1)!.data, plain);
  assert.equal(sw.softOffload.counters.get("csumFilled"), 4);
});

test("property: any valid superframe (IPv4/IPv6, any MSS, any split) reaches a port without offloads as segments that reassemble with valid checksums", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 1, max: 20000 }),
      fc.integer({ min: 64, max: 9000 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.constantFrom(0x10, 0x18, 0x19, 0x98, 0x11),
      fc.integer({ min: 60, max: 5000 }),
      fc.boolean(),
      (v6, payload, mss, seq, id, flags, piece, blank) => {
        const sw = new ValeSwitch("vale0");
        const src = refPort(sw, "src", true);
        const out = refPort(sw, "out", false);
        const frame = superframe(v6, 14 + (v6 ? 40 : 20) + 20 + payload, seq, id, flags);
        const f = fragsOf(sharedMem(1 << 16), frame, piece);
        f.flags = blank ? VALE_F_CSUM_BLANK : 0;
        f.gsoType = v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4;
        f.gsoSize = mss;
        sw.forwardFrags(src.index, f);
        checkSegments(
          frame,
          out.got.map((g) => g.data),
          v6,
          mss,
        );
        assert.equal(sw.softOffload.counters.get("gsoSegments"), out.got.length);
      },
    ),
    { numRuns: 150 },
  );
});

test("property: hostile frames with offload state never throw; what cannot be segmented is dropped and counted for that port only", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 14, maxLength: 3000 }),
      fc.array(fc.tuple(fc.nat(3000), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
      fc.constantFrom(0, 1, 2, 3, 4, 255, -1),
      fc.oneof(fc.integer({ min: -2, max: 70000 }), fc.constantFrom(1, 2, 536)),
      fc.integer({ min: 0, max: 3 }),
      (bytes, pokes, gsoType, gsoSize, flags) => {
        // Start from a real superframe now and then, so the pokes reach deep checks.
        const base =
          bytes.length > 200 && bytes[0]! < 128
            ? superframe(bytes[1]! < 128, bytes.length, 1, 2, 0x18)
            : bytes;
        for (const [at, v] of pokes) if (at < base.length) base[at] = v;
        base.set(BCAST, 0);
        base.set(A, 6);
        const sw = new ValeSwitch("vale0");
        const src = refPort(sw, "src", true);
        const vif = refPort(sw, "vif", true);
        const tap = refPort(sw, "tap", false);
        const f = fragsOf(sharedMem(1 << 13), base, 700);
        f.flags = flags;
        f.gsoType = gsoType;
        f.gsoSize = gsoSize;
        sw.forwardFrags(src.index, f);
        assert.equal(vif.got.length, 1, "a port with offloads still gets every frame");
        const c = sw.softOffload.counters;
        const dropped = c.get("offloadDrops");
        assert.equal(tap.port.counters.get("rxDrops"), dropped);
        if (dropped === 0 && (flags & VALE_F_CSUM_BLANK) + gsoType !== 0)
          for (const g of tap.got) assert.ok(checksumsOk(g.data) || !isIp(g.data));
        if (dropped > 0) assert.equal(tap.got.length, 0);
        assert.equal(src.port.counters.get("txErrors"), 0);
      },
    ),
    { numRuns: 400 },
  );
});

const isIp = (b: Uint8Array): boolean => b[12] === 0x08 || b[12] === 0x86;

test("an MSS that would give more than SOFT_SEG_MAX segments is refused and counted, not thrown", () => {
  const sw = new ValeSwitch("vale0");
  const src = refPort(sw, "src", true);
  const tap = refPort(sw, "tap", false);
  const frame = superframe(false, 14 + 40 + 64000, 1, 1, 0x18);
  const f = fragsOf(sharedMem(1 << 17), frame, 4096);
  f.gsoType = XEN_NETIF_GSO_TYPE_TCPV4;
  f.gsoSize = Math.floor(64000 / (SOFT_SEG_MAX + 1));
  sw.forwardFrags(src.index, f);
  assert.equal(tap.got.length, 0);
  assert.equal(sw.softOffload.counters.get("offloadDrops"), 1);
  assert.equal(tap.port.counters.get("rxDrops"), 1);
  f.gsoSize = 1448;
  sw.forwardFrags(src.index, f);
  assert.equal(tap.got.length, Math.ceil(64000 / 1448));
});

/**
 * Small frames, 8-byte aligned: the gather is then copyBytes' word loop. Copies past 2 KiB
 * take one short-lived view each (wire/copy.ts: the native memcpy repays it there), which is
 * copy.ts's choice, not the segmenter's; what is measured here is the rest.
 */
test("segmenting and checksumming for a port without offloads allocate nothing per frame after warm-up (GC count)", async () => {
  const sw = new ValeSwitch("vale0");
  const src = refPort(sw, "src", true);
  const tap = refPort(sw, "tap", false, false);
  const mem = privateMem(1 << 12);
  const gso = fragsOf(mem, superframe(false, 14 + 40 + 3 * 64, 1, 1, 0x18), 128);
  gso.flags = VALE_F_CSUM_BLANK;
  gso.gsoType = XEN_NETIF_GSO_TYPE_TCPV4;
  gso.gsoSize = 64;
  const udp = new ValeFrags(mem);
  mem.u8.set(buildFrame({ dst: BCAST, src: A, len: 200, blank: true }), 1024);
  udp.push(mem, 1024, 200);
  udp.flags = VALE_F_CSUM_BLANK;
  const gcs = await countGcs((i) => sw.forwardFrags(src.index, (i & 1) === 0 ? gso : udp), 200_000);
  assert.equal(tap.count(), 150_000 * 3 + 150_000);
  assert.equal(sw.softOffload.counters.get("offloadDrops"), 0);
  assert.equal(gcs, 0);
});

test("a guest's GSO frame VALE cannot segment is dropped for the port without offloads and counted; the guest's vif carries on", () => {
  const h = new OneThread(2048);
  const g = h.addGuest(ALL_FEATURES);
  const tap = refPort(h.sw, "tap", false);
  // GSO TCPv4 over a UDP datagram: netback's TX takes it (headers are not its business).
  const bad = buildFrame({ dst: BCAST, src: macOf(g.domid), len: 14 + 20 + 8 + 3000 });
  g.front.send(bad, { flags: NETTXF_csum_blank, gsoType: XEN_NETIF_GSO_TYPE_TCPV4, gsoSize: 1448 });
  const good = buildFrame({ dst: BCAST, src: macOf(g.domid), len: 14 + 20 + 8 + 100, blank: true });
  g.front.send(good, { flags: NETTXF_csum_blank });
  g.front.pushTx();
  g.kick();
  h.runDeferred();
  g.front.reapTx();
  assert.deepEqual(g.fatal, [], "the sender's vif is not disabled");
  assert.equal(g.front.txStatus.get(NETIF_RSP_OKAY), 2, "both requests answered OKAY");
  assert.equal(h.sw.softOffload.counters.get("offloadDrops"), 1);
  assert.equal(tap.port.counters.get("rxDrops"), 1);
  assert.equal(tap.got.length, 1, "the next frame still goes out");
  assert.ok(checksumsOk(tap.got[0]!.data));
});

test("a switch made with shared offloadCounters counts there, for another thread to read", () => {
  const sab = new SharedArrayBuffer(OFFLOAD_COUNTERS_BYTES);
  const sw = new ValeSwitch("vale0", { offloadCounters: sab });
  const src = refPort(sw, "src", true);
  refPort(sw, "tap", false);
  const f = fragsOf(sharedMem(1 << 14), superframe(true, 14 + 60 + 2000, 1, 0, 0x10), 500);
  f.gsoType = XEN_NETIF_GSO_TYPE_TCPV6;
  f.gsoSize = 1000;
  sw.forwardFrags(src.index, f);
  assert.deepEqual(readOffloadCounters(sab), {
    gsoFrames: 1,
    gsoSegments: 2,
    csumFilled: 0,
    offloadDrops: 0,
  });
});

test("a batch of superframes flooded through forwardBatch: each segmented once for all ports without offloads, each port's frames in order", () => {
  const sw = new ValeSwitch("vale0");
  const src = new ValePort(sw, "src", 64);
  const vx = refPort(sw, "vxlan", false);
  const ring = new ValePort(sw, "ring", 256);
  const np = ring.open();
  const mss = 1448;
  const frames = [0x1000, 0x9000].map((seq, k) => {
    const frame = superframe(false, 14 + 20 + 20 + 3 * mss, seq, 0x100 + k, 0x18);
    const f = fragsOf(sharedMem(1 << 17), frame, 1000);
    f.flags = VALE_F_CSUM_BLANK;
    f.gsoType = XEN_NETIF_GSO_TYPE_TCPV4;
    f.gsoSize = mss;
    return { frame, f };
  });
  sw.forwardBatch(
    src.index,
    frames.map((x) => x.f),
    2,
  );
  sw.flush();
  assert.equal(sw.softOffload.counters.get("gsoFrames"), 2, "two frames, each segmented once");
  assert.equal(sw.softOffload.counters.get("gsoSegments"), 6);
  assert.equal(vx.got.length, 6);
  checkSegments(
    frames[0]!.frame,
    vx.got.slice(0, 3).map((g) => g.data),
    false,
    mss,
  );
  checkSegments(
    frames[1]!.frame,
    vx.got.slice(3).map((g) => g.data),
    false,
    mss,
  );
  const onRing = drain(np);
  assert.equal(onRing.length, 6);
  checkSegments(frames[0]!.frame, onRing.slice(0, 3), false, mss);
  checkSegments(frames[1]!.frame, onRing.slice(3), false, mss);
});
