import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import {
  type ExtraInfoRepr,
  emitExtraInfo,
  emitRxRequest,
  emitRxResponse,
  emitTxRequest,
  emitTxResponse,
  extraFlags,
  extraGsoFeatures,
  extraGsoSize,
  extraGsoType,
  extraGsoWrite,
  extraHashAlgorithm,
  extraHashType,
  extraHashValue,
  extraHashWrite,
  extraMcastAddr,
  extraMcastWrite,
  extraType,
  extraXdpHeadroom,
  extraXdpWrite,
  NET_RX_RING_SIZE,
  NET_TX_RING_SIZE,
  NETIF_EXTRA_INFO_SIZE,
  NETIF_RSP_DROPPED,
  NETIF_RSP_NULL,
  NETIF_RX_REQUEST_SIZE,
  NETIF_RX_RESPONSE_SIZE,
  NETIF_TX_REQUEST_FIELDS,
  NETIF_TX_REQUEST_SIZE,
  NETIF_TX_RESPONSE_SIZE,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  NETTXF_more_data,
  parseExtraInfo,
  parseRxRequest,
  parseRxResponse,
  parseTxRequest,
  parseTxResponse,
  rxReqGref,
  rxReqId,
  rxReqWrite,
  rxRspFlags,
  rxRspId,
  rxRspOffset,
  rxRspSetStatus,
  rxRspStatus,
  rxRspWrite,
  txReqFlags,
  txReqGref,
  txReqId,
  txReqOffset,
  txReqSetFlags,
  txReqSetSize,
  txReqSize,
  txReqWrite,
  txRspSetStatus,
  txRspStatus,
  txRspWrite,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_HASH,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
  XEN_NETIF_GSO_TYPE_TCPV4,
} from "../../../src/wire/xen/netif.js";

const RUNS = { numRuns: 200 };
// Plain-prototype records, so deepStrictEqual compares them with parsed objects.
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: t.length / 2 }, (_, i) => Number.parseInt(t.slice(2 * i, 2 * i + 2), 16));
}
function a5Mem(n: number) {
  const m = privateMem(n);
  m.u8.fill(0xa5);
  return m;
}
const u16 = fc.integer({ min: 0, max: 0xffff });
const i16 = fc.integer({ min: -0x8000, max: 0x7fff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u8 = fc.integer({ min: 0, max: 0xff });

test("NETRXF swaps bits 0 and 1 with respect to NETTXF", () => {
  assert.equal(NETTXF_csum_blank, NETRXF_data_validated);
  assert.equal(NETTXF_data_validated, NETRXF_csum_blank);
  assert.equal(NETTXF_csum_blank, 1);
  assert.equal(NETRXF_csum_blank, 2);
});

test("one-page TX and RX rings hold 256 entries", () => {
  assert.equal(NET_TX_RING_SIZE, 256);
  assert.equal(NET_RX_RING_SIZE, 256);
});

test("txReq accessors read a hand-built little-endian request", () => {
  const m = privateMem(16);
  m.u8.set(hex("78563412 1000 0500 2a00 dc05"), 0);
  assert.equal(txReqGref(m, 0), 0x12345678);
  assert.equal(txReqOffset(m, 0), 16);
  assert.equal(txReqFlags(m, 0), NETTXF_csum_blank | NETTXF_more_data);
  assert.equal(txReqId(m, 0), 42);
  assert.equal(txReqSize(m, 0), 1500);
  const r = parseTxRequest(m.u8);
  assert.deepEqual(r, { gref: 0x12345678, offset: 16, flags: 5, id: 42, size: 1500 });
});

test("txReqWrite fills exactly slot 3 of a ring in a 0xa5 buffer", () => {
  const m = a5Mem(64 + 12 * 8);
  const at = 64 + 12 * 3;
  txReqWrite(m, at, 0xdeadbeef, 0x0ffe, NETTXF_more_data, 0xffff, 0x0102);
  assert.deepEqual(m.u8.subarray(at, at + 12), hex("efbeadde fe0f 0400 ffff 0201"));
  assert.ok(m.u8.subarray(0, at).every((b) => b === 0xa5));
  assert.ok(m.u8.subarray(at + 12).every((b) => b === 0xa5));
  txReqSetFlags(m, at, 0);
  txReqSetSize(m, at, 60);
  assert.deepEqual(m.u8.subarray(at + 6, at + 12), hex("0000 ffff 3c00"));
});

test("the TX request field table matches the accessors", () => {
  const m = privateMem(16);
  for (const [name, [off, width]] of Object.entries(NETIF_TX_REQUEST_FIELDS)) {
    m.u8.fill(0);
    m.u8.fill(0xff, off, off + width);
    const read = { gref: txReqGref, offset: txReqOffset, flags: txReqFlags, id: txReqId, size: txReqSize }[
      name
    ];
    assert.equal(read?.(m, 0), 2 ** (8 * width) - 1, name);
  }
});

test("txRspWrite writes 4 bytes and leaves the rest of the 12-byte slot", () => {
  const m = a5Mem(16);
  txRspWrite(m, 0, 7, NETIF_RSP_DROPPED);
  assert.deepEqual(m.u8.subarray(0, 12), hex("0700 feff a5a5a5a5 a5a5a5a5"));
  assert.equal(txRspStatus(m, 0), -2);
  txRspSetStatus(m, 0, NETIF_RSP_NULL);
  assert.deepEqual(m.u8.subarray(0, 4), hex("0700 0100"));
  assert.deepEqual(parseTxResponse(m.u8), { id: 7, status: 1 });
});

test("rx request and response vectors", () => {
  const m = a5Mem(16);
  rxReqWrite(m, 0, 0x0102, 0x0a0b0c0d);
  assert.deepEqual(m.u8.subarray(0, 8), hex("0201 0000 0d0c0b0a"));
  assert.equal(rxReqId(m, 0), 0x0102);
  assert.equal(rxReqGref(m, 0), 0x0a0b0c0d);
  rxRspWrite(m, 8, 3, 0, NETRXF_data_validated, 1514);
  assert.deepEqual(m.u8.subarray(8, 16), hex("0300 0000 0100 ea05"));
  rxRspSetStatus(m, 8, -3);
  assert.deepEqual(m.u8.subarray(14, 16), hex("fdff"));
  assert.equal(rxRspStatus(m, 8), -3);
  assert.equal(rxRspId(m, 8), 3);
  assert.equal(rxRspOffset(m, 8), 0);
  assert.equal(rxRspFlags(m, 8), 1);
  assert.deepEqual(parseRxResponse(m.u8, 8), { id: 3, offset: 0, flags: 1, status: -3 });
  assert.deepEqual(parseRxRequest(m.u8, 0), { id: 0x0102, gref: 0x0a0b0c0d });
});

test("extra_info vectors: GSO, multicast, hash, XDP", () => {
  const m = a5Mem(16);
  extraGsoWrite(m, 0, XEN_NETIF_EXTRA_FLAG_MORE, 1448, XEN_NETIF_GSO_TYPE_TCPV4);
  assert.deepEqual(m.u8.subarray(0, 8), hex("01 01 a805 01 00 0000"));
  assert.deepEqual(
    [extraType(m, 0), extraFlags(m, 0), extraGsoSize(m, 0), extraGsoType(m, 0)],
    [1, 1, 1448, 1],
  );
  assert.equal(extraGsoFeatures(m, 0), 0);
  extraMcastWrite(m, 0, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, 0x01005e0000fb);
  assert.deepEqual(m.u8.subarray(0, 8), hex("02 00 01005e0000fb"));
  assert.equal(extraMcastAddr(m, 0), 0x01005e0000fb);
  extraHashWrite(m, 0, 0, 1, 1, 0x11223344);
  assert.deepEqual(m.u8.subarray(0, 8), hex("04 00 01 01 44332211"));
  assert.deepEqual([extraHashType(m, 0), extraHashAlgorithm(m, 0), extraHashValue(m, 0)], [1, 1, 0x11223344]);
  extraXdpWrite(m, 0, 0, 256);
  assert.deepEqual(m.u8.subarray(0, 8), hex("05 00 0001 00000000"));
  assert.equal(extraXdpHeadroom(m, 0), 256);
  assert.ok(m.u8.subarray(8).every((b) => b === 0xa5));
});

test("parseExtraInfo keeps unknown types with their union bytes", () => {
  const r = parseExtraInfo(hex("00 01 010203040506"));
  assert.deepEqual(r, { kind: "unknown", type: 0, flags: 1, u: hex("010203040506") });
  const out = new Uint8Array(8).fill(0xa5);
  emitExtraInfo(r as ExtraInfoRepr, out);
  assert.deepEqual(out, hex("00 01 010203040506"));
});

const txReqArb = rec({ gref: u32, offset: u16, flags: u16, id: u16, size: u16 });
const rxRspArb = rec({ id: u16, offset: u16, flags: u16, status: i16 });
const extraArb: fc.Arbitrary<ExtraInfoRepr> = fc.oneof(
  rec({ kind: fc.constant("gso" as const), flags: u8, size: u16, gsoType: u8, features: u16 }),
  rec({
    kind: fc.constantFrom("mcastAdd" as const, "mcastDel" as const),
    flags: u8,
    addr: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  }),
  rec({ kind: fc.constant("hash" as const), flags: u8, hashType: u8, algorithm: u8, value: u32 }),
  rec({ kind: fc.constant("xdp" as const), flags: u8, headroom: u16 }),
  rec({
    kind: fc.constant("unknown" as const),
    type: fc.oneof(fc.constant(0), fc.integer({ min: 6, max: 255 })),
    flags: u8,
    u: fc.uint8Array({ minLength: 6, maxLength: 6 }),
  }),
);

test("parse∘emit is the identity for every netif Repr", () => {
  const b = new Uint8Array(24);
  fc.assert(
    fc.property(txReqArb, fc.integer({ min: 0, max: 12 }), (r, at) => {
      emitTxRequest(r, b, at);
      assert.deepEqual(parseTxRequest(b, at), r);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(rxRspArb, fc.integer({ min: 0, max: 16 }), (r, at) => {
      emitRxResponse(r, b, at);
      assert.deepEqual(parseRxResponse(b, at), r);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(rec({ id: u16, status: i16 }), rec({ id: u16, gref: u32 }), (t, q) => {
      emitTxResponse(t, b, 3);
      assert.deepEqual(parseTxResponse(b, 3), t);
      emitRxRequest(q, b, 5);
      assert.deepEqual(parseRxRequest(b, 5), q);
    }),
    RUNS,
  );
  fc.assert(
    fc.property(extraArb, fc.integer({ min: 0, max: 16 }), (r, at) => {
      emitExtraInfo(r, b, at);
      assert.deepEqual(parseExtraInfo(b, at), r);
    }),
    RUNS,
  );
});

test("accessors read what emit wrote", () => {
  const m = a5Mem(32);
  fc.assert(
    fc.property(txReqArb, rxRspArb, (t, r) => {
      emitTxRequest(t, m.u8, 4);
      assert.deepEqual(
        [txReqGref(m, 4), txReqOffset(m, 4), txReqFlags(m, 4), txReqId(m, 4), txReqSize(m, 4)],
        [t.gref, t.offset, t.flags, t.id, t.size],
      );
      emitRxResponse(r, m.u8, 16);
      assert.deepEqual(
        [rxRspId(m, 16), rxRspOffset(m, 16), rxRspFlags(m, 16), rxRspStatus(m, 16)],
        [r.id, r.offset, r.flags, r.status],
      );
    }),
    RUNS,
  );
});

test("emit writes exactly the struct's bytes into a 0xa5 buffer", () => {
  const cases: [number, (b: Uint8Array, at: number) => void, number?][] = [
    [
      NETIF_TX_REQUEST_SIZE,
      (b, at) => emitTxRequest({ gref: 0, offset: 0, flags: 0, id: 0, size: 0 }, b, at),
    ],
    [NETIF_TX_RESPONSE_SIZE, (b, at) => emitTxResponse({ id: 0, status: 0 }, b, at)],
    [NETIF_RX_REQUEST_SIZE, (b, at) => emitRxRequest({ id: 0, gref: 0 }, b, at)],
    [NETIF_RX_RESPONSE_SIZE, (b, at) => emitRxResponse({ id: 0, offset: 0, flags: 0, status: 0 }, b, at)],
    [NETIF_EXTRA_INFO_SIZE, (b, at) => emitExtraInfo({ kind: "xdp", flags: 0, headroom: 0 }, b, at), 5],
  ];
  for (const [size, emit, first = 0] of cases) {
    const b = new Uint8Array(size + 6).fill(0xa5);
    emit(b, 3);
    const body = new Uint8Array(size);
    body[0] = first;
    assert.deepEqual(b, Uint8Array.from([0xa5, 0xa5, 0xa5, ...body, 0xa5, 0xa5, 0xa5]));
  }
});

test("netif parsers return ParseError, never throw, on any bytes and offsets", () => {
  const parsers = [parseTxRequest, parseTxResponse, parseRxRequest, parseRxResponse, parseExtraInfo];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 20 }), fc.integer({ min: -4, max: 24 }), (b, at) => {
      for (const parse of parsers) {
        const r = parse(b, at);
        if (at < 0 || at + 4 > b.length) assert.ok(isParseError(r));
      }
    }),
    RUNS,
  );
  assert.ok(isParseError(parseTxRequest(new Uint8Array(11))));
  assert.ok(isParseError(parseExtraInfo(new Uint8Array(8), 0.5)));
  assert.ok(!isParseError(parseExtraInfo(new Uint8Array(8))));
  assert.equal(extraType(privateMem(8), 0), 0);
  assert.equal(XEN_NETIF_EXTRA_TYPE_GSO + XEN_NETIF_EXTRA_TYPE_HASH, 5);
});
