import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../src/wire/layout.js";
import { type Mem, privateMem } from "../../src/wire/mem.js";
import {
  emitPcapHeader,
  emitPcapRecord,
  LINKTYPE_ETHERNET,
  PCAP_HDR_LEN,
  PCAP_REC_HDR_LEN,
  type PcapHeaderRepr,
  type PcapRecordRepr,
  PcapWriter,
  parsePcapHeader,
  pcapRecordReprLen,
  readPcap,
} from "../../src/wire/pcap.js";
import { PcapngWriter } from "../../src/wire/pcapng.js";
import { ARP_REQUEST_FRAME, countGcs, hex } from "./net/fixtures.js";

/** tcpdump's header for Ethernet, µs, snaplen 262144, little-endian. */
const LE_USEC_HEADER = hex("d4 c3 b2 a1 02 00 04 00 00 00 00 00 00 00 00 00 00 00 04 00 01 00 00 00");
/** A big-endian ns file: thiszone -8, snaplen 65535, one 4-byte record of a 60-byte packet. */
const BE_NSEC_FILE = hex(
  "a1 b2 3c 4d 00 02 00 04 ff ff ff f8 00 00 00 00 00 00 ff ff 00 00 00 01" +
    " 65 53 f1 00 07 5b cd 15 00 00 00 04 00 00 00 3c de ad be ef",
);

function frameMem(frame: Uint8Array, at = 0): Mem {
  const m = privateMem(at + frame.length);
  m.u8.set(frame, at);
  return m;
}

function written(out: Mem, w: { length: number }): Uint8Array {
  return out.u8.subarray(0, w.length);
}

test("PcapWriter starts with tcpdump's little-endian µs file header", () => {
  const out = privateMem(64);
  const w = new PcapWriter(out);
  assert.equal(w.length, PCAP_HDR_LEN);
  assert.deepEqual(written(out, w), LE_USEC_HEADER);
});

test("PcapWriter.writePacket writes the record header and the frame", () => {
  const out = privateMem(128);
  const w = new PcapWriter(out);
  assert.ok(
    w.writePacket(1_700_000_000, 123_456, frameMem(ARP_REQUEST_FRAME, 5), 5, ARP_REQUEST_FRAME.length),
  );
  const rec = written(out, w).subarray(PCAP_HDR_LEN);
  assert.deepEqual(rec.subarray(0, PCAP_REC_HDR_LEN), hex("00 f1 53 65 40 e2 01 00 2a 00 00 00 2a 00 00 00"));
  assert.deepEqual(rec.subarray(PCAP_REC_HDR_LEN), ARP_REQUEST_FRAME);
});

test("readPcap reads back what PcapWriter wrote, in nanoseconds too", () => {
  const out = privateMem(256);
  const w = new PcapWriter(out, { nanos: true, snaplen: 1500 });
  const src = frameMem(ARP_REQUEST_FRAME);
  assert.ok(w.writePacket(1, 999_999_999, src, 0, 42));
  assert.ok(w.writePacket(2, 0, src, 14, 28));
  const f = readPcap(written(out, w));
  assert.ok(!isParseError(f), JSON.stringify(f));
  assert.equal(f.header.nanos, true);
  assert.equal(f.header.snaplen, 1500);
  assert.equal(f.header.linktype, LINKTYPE_ETHERNET);
  assert.deepEqual(
    f.records.map((r) => [r.tsSec, r.tsFrac, r.origLen, r.data.length]),
    [
      [1, 999_999_999, 42, 42],
      [2, 0, 28, 28],
    ],
  );
  assert.deepEqual(f.records[1].data, ARP_REQUEST_FRAME.subarray(14));
});

test("readPcap reads a hand-built big-endian nanosecond file", () => {
  const f = readPcap(BE_NSEC_FILE);
  assert.ok(!isParseError(f));
  assert.deepEqual(f.header, {
    nanos: true,
    bigEndian: true,
    versionMajor: 2,
    versionMinor: 4,
    thiszone: -8,
    sigfigs: 0,
    snaplen: 65535,
    linktype: 1,
  });
  assert.equal(f.records.length, 1);
  assert.deepEqual(f.records[0], {
    tsSec: 1_700_000_000,
    tsFrac: 123_456_789,
    origLen: 60,
    data: hex("de ad be ef"),
  });
});

test("PcapWriter cuts frames to snaplen and keeps the original length", () => {
  const out = privateMem(128);
  const w = new PcapWriter(out, { snaplen: 20 });
  w.writePacket(0, 0, frameMem(ARP_REQUEST_FRAME), 0, 42);
  const f = readPcap(written(out, w));
  assert.ok(!isParseError(f));
  assert.equal(f.records[0].origLen, 42);
  assert.deepEqual(f.records[0].data, ARP_REQUEST_FRAME.subarray(0, 20));
});

test("PcapWriter refuses a record that does not fit and clear() starts over at 0", () => {
  const out = privateMem(PCAP_HDR_LEN + PCAP_REC_HDR_LEN + 48);
  const w = new PcapWriter(out);
  const src = frameMem(ARP_REQUEST_FRAME);
  assert.ok(w.writePacket(0, 0, src, 0, 42));
  const full = w.length;
  assert.ok(!w.writePacket(0, 0, src, 0, 42));
  assert.equal(w.length, full);
  w.clear();
  assert.equal(w.length, 0);
  assert.ok(w.writePacket(7, 8, src, 0, 42));
  assert.deepEqual(out.u8.subarray(0, 4), hex("07 00 00 00"), "no second file header");
});

test("parsePcapHeader rejects a bad magic, another major version and a short header", () => {
  const bad = LE_USEC_HEADER.slice();
  bad[0] = 0xd5;
  assert.ok(isParseError(parsePcapHeader(bad)));
  const v3 = LE_USEC_HEADER.slice();
  v3[4] = 3;
  assert.ok(isParseError(parsePcapHeader(v3)));
  assert.ok(isParseError(parsePcapHeader(LE_USEC_HEADER.subarray(0, 23))));
  assert.ok(isParseError(readPcap(new Uint8Array(0))));
  assert.ok(
    isParseError(readPcap(hex("0a 0d 0d 0a 1c 00 00 00 4d 3c 2b 1a 01 00 00 00 ff ff ff ff ff ff ff ff"))),
    "pcapng",
  );
});

test("readPcap reports truncated and oversized records as ParseErrors naming the record", () => {
  const cut = BE_NSEC_FILE.subarray(0, BE_NSEC_FILE.length - 1);
  const r1 = readPcap(cut);
  assert.ok(isParseError(r1) && /truncated.*record 0 at byte 24/.test(r1.error), JSON.stringify(r1));
  assert.ok(isParseError(readPcap(BE_NSEC_FILE.subarray(0, PCAP_HDR_LEN + 10))), "half a record header");
  const huge = BE_NSEC_FILE.slice();
  huge.set(hex("ff ff ff ff"), PCAP_HDR_LEN + 8);
  const r2 = readPcap(huge);
  assert.ok(isParseError(r2) && /too large/.test(r2.error));
  assert.ok(
    !isParseError(readPcap(BE_NSEC_FILE.subarray(0, PCAP_HDR_LEN))),
    "a header alone is an empty capture",
  );
});

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const headerArb = fc.record<PcapHeaderRepr>(
  {
    nanos: fc.boolean(),
    bigEndian: fc.boolean(),
    versionMajor: fc.constant(2),
    versionMinor: fc.nat({ max: 0xffff }),
    thiszone: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    sigfigs: u32,
    snaplen: u32,
    linktype: u32,
  },
  { noNullPrototype: true },
);
const recordArb = fc.record<PcapRecordRepr>(
  { tsSec: u32, tsFrac: u32, origLen: u32, data: fc.uint8Array({ maxLength: 80 }) },
  { noNullPrototype: true },
);

test("readPcap inverts emitPcapHeader and emitPcapRecord in both byte orders", () => {
  fc.assert(
    fc.property(headerArb, fc.array(recordArb, { maxLength: 6 }), (h, recs) => {
      const b = new Uint8Array(PCAP_HDR_LEN + recs.reduce((n, r) => n + pcapRecordReprLen(r), 0)).fill(0xa5);
      emitPcapHeader(h, b);
      let at = PCAP_HDR_LEN;
      for (const r of recs) {
        emitPcapRecord(r, b, at, h.bigEndian);
        at += pcapRecordReprLen(r);
      }
      assert.deepEqual(readPcap(b), { header: h, records: recs });
    }),
  );
});

test("readPcap never throws or hangs on random or mutated input", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      readPcap(b);
    }),
  );
  fc.assert(
    fc.property(fc.nat({ max: BE_NSEC_FILE.length }), fc.nat({ max: 255 }), fc.nat(), (pos, v, cut) => {
      const b = BE_NSEC_FILE.slice();
      if (pos < b.length) b[pos] = v;
      readPcap(b.subarray(0, cut % (b.length + 1)));
    }),
  );
});

test("the pcap and pcapng writers allocate nothing per record", async () => {
  const src = privateMem(2048);
  const out = privateMem(1 << 16);
  const w = new PcapWriter(out);
  const wn = new PcapngWriter(out);
  wn.writeShb();
  wn.writeIdb({ tsresol: 9 });
  // 60 and 1500 bytes land at unaligned offsets too: every length goes down the byte path sometimes.
  const write = (i: number) => {
    const len = i & 1 ? 60 : 1500;
    if (!w.writePacket(i, i, src, i & 7, len)) w.clear();
    if (!wn.writeEpb(0, i, i, src, 0, len)) wn.clear();
  };
  assert.equal(await countGcs(write, 300_000), 0);
  // The measurement can fail: one small object per record shows up.
  const kept: { i: number }[] = [];
  assert.ok((await countGcs((i) => (kept[i & 1] = { i }), 1_000_000)) > 0);
});
