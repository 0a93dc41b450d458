import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import {
  ctrlReqData,
  ctrlReqId,
  ctrlReqType,
  ctrlReqWrite,
  ctrlRspData,
  ctrlRspId,
  ctrlRspStatus,
  ctrlRspType,
  ctrlRspWrite,
  emitCtrlRequest,
  emitCtrlResponse,
  emitNetifGref,
  netifGrefFlags,
  netifGrefRef,
  netifGrefSetStatus,
  netifGrefStatus,
  parseCtrlRequest,
  parseCtrlResponse,
  parseNetifGref,
  XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
  XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP,
  XEN_NETIF_CTRL_RING_SIZE,
  XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED,
  XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
  XEN_NETIF_CTRLF_GREF_readonly,
  XEN_NETIF_GREF_SIZE,
} from "../../../src/wire/xen/netif-ctrl.js";

const RUNS = { numRuns: 200 };
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: t.length / 2 }, (_, i) => Number.parseInt(t.slice(2 * i, 2 * i + 2), 16));
}

test("one-page ctrl ring holds 128 entries; hash type masks are bit numbers shifted", () => {
  assert.equal(XEN_NETIF_CTRL_RING_SIZE, 128);
  assert.equal(XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 2);
  assert.equal(XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP, 8);
});

test("ctrl request vector: SET_HASH_KEY(gref 9, len 40)", () => {
  const m = privateMem(80);
  m.u8.fill(0xa5);
  ctrlReqWrite(m, 64, 1, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 9, 40, 0);
  assert.deepEqual(m.u8.subarray(64, 80), hex("0100 0300 09000000 28000000 00000000"));
  assert.ok(m.u8.subarray(0, 64).every((b) => b === 0xa5));
  assert.deepEqual([ctrlReqId(m, 64), ctrlReqType(m, 64)], [1, 3]);
  assert.deepEqual(
    [0, 1, 2].map((i) => ctrlReqData(m, 64, i)),
    [9, 40, 0],
  );
  assert.deepEqual(parseCtrlRequest(m.u8, 64), { id: 1, type: 3, data: [9, 40, 0] });
});

test("ctrl response vector: NOT_SUPPORTED in a 16-byte slot", () => {
  const m = privateMem(16);
  m.u8.fill(0xa5);
  ctrlRspWrite(m, 0, 0xbeef, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED, 0x80);
  assert.deepEqual(m.u8, hex("efbe 0600 01000000 80000000 a5a5a5a5"));
  assert.deepEqual(
    [ctrlRspId(m, 0), ctrlRspType(m, 0), ctrlRspStatus(m, 0), ctrlRspData(m, 0)],
    [0xbeef, 6, 1, 0x80],
  );
  assert.deepEqual(parseCtrlResponse(m.u8), { id: 0xbeef, type: 6, status: 1, data: 0x80 });
});

test("xen_netif_gref vector; status is a u16 (XEN_NETIF_CTRL_STATUS_*)", () => {
  const m = privateMem(8);
  m.u8.set(hex("78563412 0100 0000"));
  assert.deepEqual([netifGrefRef(m, 0), netifGrefFlags(m, 0)], [0x12345678, XEN_NETIF_CTRLF_GREF_readonly]);
  netifGrefSetStatus(m, 0, 3);
  assert.deepEqual(m.u8.subarray(6), hex("0300"));
  assert.equal(netifGrefStatus(m, 0), 3);
  assert.equal(XEN_NETIF_GREF_SIZE, 8);
});

const reqArb = rec({ id: u16, type: u16, data: fc.tuple(u32, u32, u32) });
const rspArb = rec({ id: u16, type: u16, status: u32, data: u32 });
const grefArb = rec({ ref: u32, flags: u16, status: u16 });

test("parse∘emit is the identity; accessors read what emit wrote", () => {
  const m = privateMem(48);
  fc.assert(
    fc.property(reqArb, rspArb, grefArb, (q, r, g) => {
      emitCtrlRequest(q, m.u8, 0);
      emitCtrlResponse(r, m.u8, 16);
      emitNetifGref(g, m.u8, 32);
      assert.deepEqual(parseCtrlRequest(m.u8, 0), q);
      assert.deepEqual(parseCtrlResponse(m.u8, 16), r);
      assert.deepEqual(parseNetifGref(m.u8, 32), g);
      assert.deepEqual([ctrlReqId(m, 0), ctrlReqType(m, 0), ctrlReqData(m, 0, 2)], [q.id, q.type, q.data[2]]);
      assert.deepEqual([ctrlRspStatus(m, 16), ctrlRspData(m, 16)], [r.status, r.data]);
      assert.deepEqual(
        [netifGrefRef(m, 32), netifGrefFlags(m, 32), netifGrefStatus(m, 32)],
        [g.ref, g.flags, g.status],
      );
    }),
    RUNS,
  );
});

test("ctrl emitters write exactly their bytes into a 0xa5 buffer", () => {
  const b = new Uint8Array(20).fill(0xa5);
  emitCtrlResponse({ id: 0, type: 0, status: 0, data: 0 }, b, 4);
  assert.deepEqual(b, hex("a5a5a5a5 000000000000000000000000 a5a5a5a5"));
  b.fill(0xa5);
  emitCtrlRequest({ id: 0, type: 0, data: [0, 0, 0] }, b, 2);
  assert.deepEqual(b, hex("a5a5 00000000000000000000000000000000 a5a5"));
});

test("ctrl parsers never throw on random bytes and offsets", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 24 }), fc.integer({ min: -4, max: 26 }), (b, at) => {
      const q = parseCtrlRequest(b, at);
      const r = parseCtrlResponse(b, at);
      const g = parseNetifGref(b, at);
      assert.equal(isParseError(q), at < 0 || at + 16 > b.length);
      assert.equal(isParseError(r), at < 0 || at + 12 > b.length);
      assert.equal(isParseError(g), at < 0 || at + 8 > b.length);
    }),
    RUNS,
  );
});
