import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { sharedMem } from "../../../src/wire/mem.js";
import {
  emitXsRingHeader,
  MASK_XENSTORE_IDX,
  parseXsRingHeader,
  XENSTORE_CONNECTED,
  XENSTORE_DOMAIN_INTERFACE_FIELDS,
  XENSTORE_DOMAIN_INTERFACE_SIZE,
  XENSTORE_ERROR_PROTO,
  XENSTORE_RECONNECT,
  XENSTORE_RING_SIZE,
  XENSTORE_SERVER_FEATURE_ERROR,
  XENSTORE_SERVER_FEATURE_RECONNECTION,
  xsConnection,
  xsError,
  xsReqCons,
  xsReqProd,
  xsRspCons,
  xsRspProd,
  xsServerFeatures,
  xsSetConnection,
  xsSetError,
  xsSetReqCons,
  xsSetReqProd,
  xsSetRspCons,
  xsSetRspProd,
  xsSetServerFeatures,
} from "../../../src/wire/xen/xs-ring.js";

function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}
const u32 = fc.integer({ min: 0, max: 0xffffffff });

test("xenstore ring page: 1 KiB rings, control words from 2048, size 2076", () => {
  assert.equal(XENSTORE_RING_SIZE, 1024);
  assert.equal(XENSTORE_DOMAIN_INTERFACE_SIZE, 2076);
  assert.deepEqual(XENSTORE_DOMAIN_INTERFACE_FIELDS.rsp, [1024, 1024]);
  assert.deepEqual(XENSTORE_DOMAIN_INTERFACE_FIELDS.error, [2072, 4]);
  assert.equal(XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR, 3);
  assert.deepEqual([XENSTORE_CONNECTED, XENSTORE_RECONNECT, XENSTORE_ERROR_PROTO], [0, 1, 3]);
});

test("MASK_XENSTORE_IDX keeps the low 10 bits of a free-running index", () => {
  assert.equal(MASK_XENSTORE_IDX(0), 0);
  assert.equal(MASK_XENSTORE_IDX(1023), 1023);
  assert.equal(MASK_XENSTORE_IDX(1025), 1);
  assert.equal(MASK_XENSTORE_IDX(0xffffffff), 1023);
});

test("setters write little-endian words at the header offsets of a page at 4096", () => {
  const m = sharedMem(8192);
  m.u8.fill(0xa5);
  const at = 4096;
  xsSetReqCons(m, at, 0x01020304);
  xsSetReqProd(m, at, 0xfffffffe);
  xsSetRspCons(m, at, 1);
  xsSetRspProd(m, at, 2);
  xsSetServerFeatures(m, at, 3);
  xsSetConnection(m, at, XENSTORE_RECONNECT);
  xsSetError(m, at, XENSTORE_ERROR_PROTO);
  const hdr = Array.from(m.u8.subarray(at + 2048, at + 2076), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
  assert.equal(hdr, "04030201feffffff01000000020000000300000001000000" + "03000000");
  assert.ok(m.u8.subarray(at, at + 2048).every((b) => b === 0xa5));
  assert.ok(m.u8.subarray(at + 2076).every((b) => b === 0xa5));
  assert.deepEqual(
    [xsReqCons(m, at), xsReqProd(m, at), xsRspCons(m, at), xsRspProd(m, at)],
    [0x01020304, 0xfffffffe, 1, 2],
  );
  assert.deepEqual([xsServerFeatures(m, at), xsConnection(m, at), xsError(m, at)], [3, 1, 3]);
});

test("parse∘emit is the identity; accessors read what emit wrote", () => {
  const m = sharedMem(4096);
  const arb = rec({
    reqCons: u32,
    reqProd: u32,
    rspCons: u32,
    rspProd: u32,
    serverFeatures: u32,
    connection: u32,
    error: u32,
  });
  fc.assert(
    fc.property(arb, (r) => {
      emitXsRingHeader(r, m.u8);
      assert.deepEqual(parseXsRingHeader(m.u8), r);
      assert.deepEqual([xsReqProd(m, 0), xsRspCons(m, 0), xsError(m, 0)], [r.reqProd, r.rspCons, r.error]);
    }),
    { numRuns: 100 },
  );
});

test("parseXsRingHeader refuses a short page image without throwing", () => {
  assert.ok(isParseError(parseXsRingHeader(new Uint8Array(2075))));
  assert.ok(isParseError(parseXsRingHeader(new Uint8Array(4096), 2100)));
  assert.ok(isParseError(parseXsRingHeader(new Uint8Array(4096), -1)));
  assert.ok(!isParseError(parseXsRingHeader(new Uint8Array(2076))));
});
