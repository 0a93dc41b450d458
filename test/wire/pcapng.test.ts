import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../src/wire/layout.js";
import { type Mem, privateMem } from "../../src/wire/mem.js";
import {
  EPB_DIR_INBOUND,
  EPB_DIR_OUTBOUND,
  PcapngWriter,
  readPcapng,
  tsresolUnits,
} from "../../src/wire/pcapng.js";
import { ARP_REQUEST_FRAME, hex } from "./net/fixtures.js";

const SHB_LE = hex("0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffffffffffff 1c000000");
/** IDB: Ethernet, snaplen 0, if_name "vif1.0", if_tsresol 9 (ns), opt_endofopt. */
const IDB_LE = hex(
  "01000000 2c000000 0100 0000 00000000 0200 0600 766966312e30 0000 0900 0100 09 000000 0000 0000 2c000000",
);

/** A big-endian file: SHB, IDB (µs, snaplen 65535), an unknown block, an EPB of 3 bytes. */
const BE_FILE = hex(
  "0a0d0d0a 0000001c 1a2b3c4d 0001 0000 ffffffffffffffff 0000001c" +
    " 00000001 00000014 0001 0000 0000ffff 00000014" +
    " 00000bad 00000010 12345678 00000010" +
    " 00000006 00000024 00000000 00060a24 1825e120 00000003 0000003c deadbe00 00000024",
);

function frameMem(frame: Uint8Array): Mem {
  const m = privateMem(frame.length);
  m.u8.set(frame);
  return m;
}

function bytesOf(out: Mem, w: PcapngWriter): Uint8Array {
  return out.u8.subarray(0, w.length);
}

test("tsresolUnits reads decimal and binary resolutions", () => {
  assert.deepEqual(
    [tsresolUnits(6), tsresolUnits(9), tsresolUnits(0), tsresolUnits(0x8a)],
    [1e6, 1e9, 1, 1024],
  );
});

test("PcapngWriter writes the section and interface blocks byte for byte", () => {
  const out = privateMem(256);
  const w = new PcapngWriter(out);
  assert.ok(w.writeShb());
  assert.equal(w.writeIdb({ name: "vif1.0", tsresol: 9 }), 0);
  assert.deepEqual(bytesOf(out, w), Uint8Array.of(...SHB_LE, ...IDB_LE));
});

test("PcapngWriter writes an EPB with a 64-bit ns timestamp, padded data and the length copy", () => {
  const out = privateMem(256);
  const w = new PcapngWriter(out);
  w.writeShb();
  w.writeIdb({ tsresol: 9 });
  const start = w.length;
  assert.ok(w.writeEpb(0, 1_700_000_000, 123_456_789, frameMem(ARP_REQUEST_FRAME), 0, 42));
  const epb = bytesOf(out, w).subarray(start);
  assert.equal(epb.length, 76);
  assert.deepEqual(
    epb.subarray(0, 28),
    hex("06000000 4c000000 00000000 fe9c9717 15cd853d 2a000000 2a000000"),
  );
  assert.deepEqual(epb.subarray(28, 70), ARP_REQUEST_FRAME);
  assert.deepEqual(epb.subarray(70), hex("0000 4c000000"));
  // The same timestamp, computed independently with BigInt.
  const units = 1_700_000_000n * 1_000_000_000n + 123_456_789n;
  const dv = new DataView(epb.buffer, epb.byteOffset);
  assert.equal(BigInt(dv.getUint32(12, true)) * 2n ** 32n + BigInt(dv.getUint32(16, true)), units);
});

test("an EPB with a direction carries epb_flags byte for byte, and reads back", () => {
  const out = privateMem(256);
  const w = new PcapngWriter(out);
  w.writeShb();
  w.writeIdb();
  const start = w.length;
  const src = frameMem(ARP_REQUEST_FRAME);
  assert.ok(w.writeEpb(0, 1, 2, src, 0, 3, EPB_DIR_OUTBOUND));
  // 28 fixed, 3 data padded to 4, epb_flags (code 2, length 4, value 2), opt_endofopt, length.
  assert.deepEqual(
    bytesOf(out, w).subarray(start),
    hex(
      "06000000 30000000 00000000 00000000 42420f00 03000000 03000000 ffffff00 0200 0400 02000000 00000000 30000000",
    ),
  );
  w.writeEpb(0, 1, 2, src, 0, 42, EPB_DIR_INBOUND);
  const f = readPcapng(bytesOf(out, w));
  assert.ok(!isParseError(f), JSON.stringify(f));
  assert.deepEqual(
    f.packets.map((p) => [p.flags, p.data.length]),
    [
      [EPB_DIR_OUTBOUND, 3],
      [EPB_DIR_INBOUND, 42],
    ],
  );
});

test("readPcapng reads back the writer's file", () => {
  const out = privateMem(512);
  const w = new PcapngWriter(out);
  w.writeShb("pvnet test");
  w.writeIdb({ name: "vif1.0", tsresol: 9 });
  w.writeIdb({ snaplen: 16 });
  const src = frameMem(ARP_REQUEST_FRAME);
  w.writeEpb(0, 1_700_000_000, 123_456_789, src, 0, 42);
  w.writeEpb(1, 5, 6, src, 0, 42);
  const f = readPcapng(bytesOf(out, w));
  assert.ok(!isParseError(f), JSON.stringify(f));
  assert.deepEqual(f.interfaces, [
    { linktype: 1, snaplen: 0, tsresol: 9, name: "vif1.0" },
    { linktype: 1, snaplen: 16, tsresol: 6 },
  ]);
  assert.deepEqual(f.packets[0], {
    interfaceIndex: 0,
    tsSec: 1_700_000_000,
    tsFrac: 123_456_789,
    origLen: 42,
    data: ARP_REQUEST_FRAME,
    flags: 0,
  });
  assert.deepEqual(f.packets[1], {
    interfaceIndex: 1,
    tsSec: 5,
    tsFrac: 6,
    origLen: 42,
    data: ARP_REQUEST_FRAME.subarray(0, 16),
    flags: 0,
  });
});

test("readPcapng reads a hand-built big-endian file and skips the unknown block", () => {
  const f = readPcapng(BE_FILE);
  assert.ok(!isParseError(f), JSON.stringify(f));
  assert.deepEqual(f, {
    interfaces: [{ linktype: 1, snaplen: 65535, tsresol: 6 }],
    packets: [
      {
        interfaceIndex: 0,
        tsSec: 1_700_000_000,
        tsFrac: 500_000,
        origLen: 60,
        data: hex("deadbe"),
        flags: 0,
      },
    ],
  });
});

test("interface ids start again in each section", () => {
  const out = privateMem(512);
  const w = new PcapngWriter(out);
  const src = frameMem(ARP_REQUEST_FRAME);
  w.writeShb();
  w.writeIdb();
  w.writeShb();
  w.writeIdb({ tsresol: 3 });
  w.writeEpb(0, 1, 2, src, 0, 14);
  const f = readPcapng(bytesOf(out, w));
  assert.ok(!isParseError(f));
  assert.equal(f.packets[0].interfaceIndex, 1);
  assert.equal(f.packets[0].tsFrac, 2);
  assert.throws(() => w.writeEpb(1, 0, 0, src, 0, 14), /interface 1 not declared/);
});

/** A copy of `b` with the u32 at `at` replaced (big-endian, as BE_FILE is). */
function patched(b: Uint8Array, at: number, v: number): Uint8Array {
  const c = b.slice();
  new DataView(c.buffer).setUint32(at, v);
  return c;
}

test("readPcapng rejects bad framing and bad blocks with a ParseError", () => {
  const cases: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["starts with an IDB", BE_FILE.subarray(28)],
    ["bad byte-order magic", patched(BE_FILE, 8, 0x11223344)],
    ["block length 8", patched(patched(BE_FILE, 4, 8), 24, 8)],
    ["length not a multiple of 4", patched(BE_FILE, 32, 0x15)],
    ["length past the end", patched(BE_FILE, 32, 0x1000)],
    ["trailing length differs", patched(BE_FILE, 44, 0x18)],
    ["SHB major 2", patched(BE_FILE, 12, 0x00020000)],
    ["EPB names interface 1", patched(BE_FILE, 72, 1)],
    ["EPB captured length past the block", patched(BE_FILE, 84, 5)],
    ["truncated", BE_FILE.subarray(0, BE_FILE.length - 4)],
    ["half a block header", Uint8Array.of(...BE_FILE, 0, 0, 0, 6)],
  ];
  for (const [name, b] of cases) assert.ok(isParseError(readPcapng(b)), name);
});

test("readPcapng rejects an option running past its block and an unsupported resolution", () => {
  const over = Uint8Array.of(...SHB_LE, ...IDB_LE);
  over[28 + 18] = 0x40; // if_name length 64
  assert.ok(isParseError(readPcapng(over)));
  const fine = Uint8Array.of(...SHB_LE, ...IDB_LE);
  fine[28 + 32] = 12; // picoseconds
  const r = readPcapng(fine);
  assert.ok(isParseError(r) && /tsresol/.test(r.error));
});

const tsresolArb = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0x80, max: 0x80 + 32 }));
const ifcArb = fc.record({ tsresol: tsresolArb, snaplen: fc.oneof(fc.constant(0), fc.nat({ max: 100 })) });

test("readPcapng inverts PcapngWriter for any resolution, timestamp and direction", () => {
  const pkt = (nIfc: number) =>
    fc.record({
      ifId: fc.nat({ max: nIfc - 1 }),
      tsSec: fc.integer({ min: 0, max: 0xffff_ffff }),
      frac: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      data: fc.uint8Array({ maxLength: 70 }),
      flags: fc.oneof(fc.constant(0), fc.constant(EPB_DIR_INBOUND), fc.constant(EPB_DIR_OUTBOUND)),
    });
  const fileArb = fc
    .array(ifcArb, { minLength: 1, maxLength: 3 })
    .chain((ifcs) => fc.tuple(fc.constant(ifcs), fc.array(pkt(ifcs.length), { maxLength: 5 })));
  fc.assert(
    fc.property(fileArb, ([ifcs, pkts]) => {
      const out = privateMem(4096);
      const w = new PcapngWriter(out);
      w.writeShb();
      for (const i of ifcs) w.writeIdb(i);
      const expected = pkts.map((p) => {
        const units = tsresolUnits(ifcs[p.ifId].tsresol);
        const tsFrac = Math.floor(p.frac * units);
        assert.ok(w.writeEpb(p.ifId, p.tsSec, tsFrac, frameMem(p.data), 0, p.data.length, p.flags));
        const snap = ifcs[p.ifId].snaplen;
        const cap = snap === 0 ? p.data.length : Math.min(snap, p.data.length);
        return {
          interfaceIndex: p.ifId,
          tsSec: p.tsSec,
          tsFrac,
          origLen: p.data.length,
          data: p.data.subarray(0, cap),
          flags: p.flags,
        };
      });
      const f = readPcapng(bytesOf(out, w));
      assert.ok(!isParseError(f), JSON.stringify(f));
      assert.deepEqual(f.packets, expected);
      assert.deepEqual(
        f.interfaces.map((i) => [i.tsresol, i.snaplen]),
        ifcs.map((i) => [i.tsresol, i.snaplen]),
      );
    }),
  );
});

test("readPcapng never throws or hangs on random or mutated input", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
      readPcapng(b);
    }),
  );
  const good = Uint8Array.of(...SHB_LE, ...IDB_LE, ...BE_FILE);
  fc.assert(
    fc.property(fc.nat({ max: good.length }), fc.nat({ max: 255 }), fc.nat(), (pos, v, cut) => {
      const b = good.slice();
      if (pos < b.length) b[pos] = v;
      readPcapng(b.subarray(0, cut % (b.length + 1)));
    }),
  );
});
