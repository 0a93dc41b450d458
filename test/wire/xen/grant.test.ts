import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem, sharedMem } from "../../../src/wire/mem.js";
import {
  DOMID_INVALID,
  DOMID_SELF,
  emitGnttabCopy,
  emitGrantEntry,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST_bad_copy_arg,
  GNTST_bad_gntref,
  GNTST_no_space,
  GNTTAB_COPY_SIZE,
  GNTTAB_MAP_GRANT_REF_FIELDS,
  GNTTAB_MAP_GRANT_REF_SIZE,
  GNTTAB_UNMAP_GRANT_REF_SIZE,
  GNTTABOP_error_msgs,
  type GnttabCopyRepr,
  GRANT_ENTRIES_PER_FRAME,
  GRANT_ENTRY_V1_SIZE,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_transfer_committed,
  gcopyDestDomid,
  gcopyDestGmfnHi,
  gcopyDestGmfnLo,
  gcopyDestOffset,
  gcopyDestRef,
  gcopyFlags,
  gcopyLen,
  gcopySetDestGmfn,
  gcopySetDestRef,
  gcopySetSrcGmfn,
  gcopySetSrcRef,
  gcopySetStatus,
  gcopySrcDomid,
  gcopySrcGmfnHi,
  gcopySrcGmfnLo,
  gcopySrcOffset,
  gcopySrcRef,
  gcopyStatus,
  gcopyWrite,
  gntCasWord,
  gntDomid,
  gntFlags,
  gntFrame,
  gntSetDomid,
  gntSetFlags,
  gntSetFrame,
  gntstMessage,
  gntWord,
  gntWordOf,
  parseGnttabCopy,
  parseGrantEntry,
} from "../../../src/wire/xen/grant.js";

const RUNS = { numRuns: 200 };
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}
const u16 = fc.integer({ min: 0, max: 0xffff });
const i16 = fc.integer({ min: -0x8000, max: 0x7fff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: t.length / 2 }, (_, i) => Number.parseInt(t.slice(2 * i, 2 * i + 2), 16));
}

test("grant constants: sizes, readonly shares its bit with transfer_committed", () => {
  assert.equal(GRANT_ENTRY_V1_SIZE, 8);
  assert.equal(GRANT_ENTRIES_PER_FRAME, 512);
  assert.equal(GTF_readonly, GTF_transfer_committed);
  assert.equal(DOMID_SELF, 0x7ff0);
  assert.equal(DOMID_INVALID, 0x7ff4);
  assert.equal(GNTTAB_COPY_SIZE, 40);
  assert.equal(GNTTAB_MAP_GRANT_REF_SIZE, 32);
  assert.equal(GNTTAB_UNMAP_GRANT_REF_SIZE, 24);
  assert.deepEqual(GNTTAB_MAP_GRANT_REF_FIELDS.handle, [20, 4]);
});

test("GNTTABOP_error_msgs has one message per status, 0..-13", () => {
  assert.equal(GNTTABOP_error_msgs.length, -GNTST_no_space + 1);
  assert.equal(gntstMessage(GNTST_bad_gntref), "invalid grant reference");
  assert.equal(gntstMessage(GNTST_bad_copy_arg), "copy arguments cross a page boundary");
  assert.equal(gntstMessage(-14), "unknown grant status -14");
  assert.equal(gntstMessage(3), "unknown grant status 3");
});

test("grant entry accessors read a hand-built entry; the flags|domid word is LE", () => {
  const m = privateMem(16);
  m.u8.set(hex("0500 0100 34120000"), 8);
  assert.equal(gntFlags(m, 8), GTF_permit_access | GTF_readonly);
  assert.equal(gntDomid(m, 8), 1);
  assert.equal(gntFrame(m, 8), 0x1234);
  assert.equal(gntWord(m, 8), 0x00010005);
  assert.equal(gntWordOf(5, 1), 0x00010005);
  assert.deepEqual(parseGrantEntry(m.u8, 8), { flags: 5, domid: 1, frame: 0x1234 });
});

test("gntCasWord swaps only from the expected word", () => {
  const m = sharedMem(8);
  gntSetDomid(m, 0, 0x7ff0);
  gntSetFrame(m, 0, 0xfffffffe);
  gntSetFlags(m, 0, GTF_permit_access);
  const w = gntWordOf(GTF_permit_access, 0x7ff0);
  assert.equal(gntCasWord(m, 0, w ^ 1, 0), w);
  assert.equal(gntFlags(m, 0), GTF_permit_access);
  assert.equal(gntCasWord(m, 0, w, gntWordOf(GTF_permit_access | GTF_reading, 0x7ff0)), w);
  assert.equal(gntFlags(m, 0), GTF_permit_access | GTF_reading);
  assert.deepEqual(m.u8, hex("0900 f07f feffffff"));
});

test("emitGrantEntry writes 8 bytes in a 0xa5 buffer", () => {
  const b = new Uint8Array(12).fill(0xa5);
  emitGrantEntry({ flags: 0x0011, domid: 0x0203, frame: 0x04050607 }, b, 2);
  assert.deepEqual(b, hex("a5a5 1100 0302 07060504 a5a5"));
});

test("gnttab_copy ops filled in place in a preallocated array, op i at base + 40 i", () => {
  const base = 8;
  const m = privateMem(base + 3 * GNTTAB_COPY_SIZE);
  m.u8.fill(0xa5);
  const at = base + GNTTAB_COPY_SIZE;
  gcopyWrite(m, at, 17, 3, 0x10, 0x1234, DOMID_SELF, 0x20, 1500, GNTCOPY_source_gref);
  gcopySetStatus(m, at, GNTST_bad_gntref);
  assert.deepEqual(
    m.u8.subarray(at, at + 40),
    hex("11000000 00000000 0300 1000 a5a5a5a5 34120000 00000000 f07f 2000 a5a5a5a5 dc05 0100 fdff a5a5"),
  );
  assert.ok(m.u8.subarray(0, at).every((x) => x === 0xa5));
  assert.ok(m.u8.subarray(at + 40).every((x) => x === 0xa5));
  assert.deepEqual(
    [
      gcopySrcRef(m, at),
      gcopySrcDomid(m, at),
      gcopySrcOffset(m, at),
      gcopyDestGmfnLo(m, at),
      gcopyDestGmfnHi(m, at),
    ],
    [17, 3, 0x10, 0x1234, 0],
  );
  assert.deepEqual(
    [gcopyDestDomid(m, at), gcopyDestOffset(m, at), gcopyLen(m, at), gcopyFlags(m, at)],
    [DOMID_SELF, 0x20, 1500, GNTCOPY_source_gref],
  );
  assert.equal(gcopyStatus(m, at), -3);
  gcopySetSrcGmfn(m, at, 0x89abcdef, 0x01);
  gcopySetDestRef(m, at, 99);
  assert.deepEqual(m.u8.subarray(at, at + 8), hex("efcdab89 01000000"));
  assert.deepEqual([gcopySrcGmfnLo(m, at), gcopySrcGmfnHi(m, at), gcopyDestRef(m, at)], [0x89abcdef, 1, 99]);
  gcopySetSrcRef(m, at, 5);
  gcopySetDestGmfn(m, at, 7, 0xffffffff);
  assert.deepEqual(m.u8.subarray(at, at + 8), hex("05000000 00000000"));
  assert.deepEqual(m.u8.subarray(at + 16, at + 24), hex("07000000 ffffffff"));
  assert.deepEqual(parseGnttabCopy(m.u8, at), {
    source: { ref: 5, domid: 3, offset: 0x10 },
    dest: { gmfn: 0xffffffff00000007n, domid: DOMID_SELF, offset: 0x20 },
    len: 1500,
    flags: GNTCOPY_source_gref,
    status: -3,
  });
});

const ptr = (isRef: boolean) =>
  isRef
    ? rec({ ref: u32, domid: u16, offset: u16 })
    : rec({ gmfn: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), domid: u16, offset: u16 });
const copyArb: fc.Arbitrary<GnttabCopyRepr> = fc
  .tuple(fc.boolean(), fc.boolean(), u16)
  .chain(([s, d, other]) =>
    rec({
      source: ptr(s),
      dest: ptr(d),
      len: u16,
      flags: fc.constant((other & ~3) | (s ? GNTCOPY_source_gref : 0) | (d ? GNTCOPY_dest_gref : 0)),
      status: i16,
    }),
  ) as fc.Arbitrary<GnttabCopyRepr>;

test("parse∘emit is the identity for grant entries and gnttab_copy", () => {
  const b = new Uint8Array(64);
  fc.assert(
    fc.property(rec({ flags: u16, domid: u16, frame: u32 }), fc.integer({ min: 0, max: 56 }), (r, at) => {
      emitGrantEntry(r, b, at);
      assert.deepEqual(parseGrantEntry(b, at), r);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(copyArb, fc.integer({ min: 0, max: 24 }), (r, at) => {
      emitGnttabCopy(r, b, at);
      assert.deepEqual(parseGnttabCopy(b, at), r);
    }),
    RUNS,
  );
});

test("gcopy accessors read what emitGnttabCopy wrote; padding is zeroed", () => {
  const m = privateMem(48);
  fc.assert(
    fc.property(copyArb, (r) => {
      m.u8.fill(0xa5);
      emitGnttabCopy(r, m.u8, 8);
      const lo = (p: GnttabCopyRepr["source"]) => ("ref" in p ? p.ref : Number(p.gmfn & 0xffffffffn));
      const hi = (p: GnttabCopyRepr["source"]) => ("ref" in p ? 0 : Number(p.gmfn >> 32n));
      assert.deepEqual([gcopySrcGmfnLo(m, 8), gcopySrcGmfnHi(m, 8)], [lo(r.source), hi(r.source)]);
      assert.deepEqual([gcopyDestGmfnLo(m, 8), gcopyDestGmfnHi(m, 8)], [lo(r.dest), hi(r.dest)]);
      assert.deepEqual(
        [gcopySrcDomid(m, 8), gcopySrcOffset(m, 8), gcopyDestDomid(m, 8), gcopyDestOffset(m, 8)],
        [r.source.domid, r.source.offset, r.dest.domid, r.dest.offset],
      );
      assert.deepEqual([gcopyLen(m, 8), gcopyFlags(m, 8), gcopyStatus(m, 8)], [r.len, r.flags, r.status]);
      for (const pad of [20, 21, 22, 23, 36, 37, 38, 39, 46, 47]) assert.equal(m.u8[pad], 0, `byte ${pad}`);
      assert.deepEqual([m.u8[7], m.u8[0]], [0xa5, 0xa5]);
    }),
    RUNS,
  );
});

test("grant parsers never throw on random bytes and offsets", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 48 }), fc.integer({ min: -8, max: 50 }), (b, at) => {
      const e = parseGrantEntry(b, at);
      const c = parseGnttabCopy(b, at);
      if (at < 0 || at + 8 > b.length) assert.ok(isParseError(e));
      if (at < 0 || at + 40 > b.length) assert.ok(isParseError(c));
    }),
    RUNS,
  );
});
