import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import {
  emitXsMsg,
  isXsNeedMore,
  isXsTooLong,
  isXsType417,
  joinXsStrings,
  parseXsHeader,
  parseXsMsg,
  splitXsPathValue,
  splitXsStrings,
  XENSTORE_PAYLOAD_MAX,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_QUOTA,
  XS_READ,
  XS_TRANSACTION_START,
  XS_TYPE_COUNT,
  XS_WATCH_EVENT,
  XS_WRITE,
  XSD_ERRORS,
  XSD_SOCKMSG_SIZE,
  type XsMsgRepr,
  xsdErrnum,
  xsdErrstring,
  xsMsgBytes,
  xsTypeName,
} from "../../../src/wire/xen/xs-wire.js";

// Byte dumps of xenstore-utils 4.17 on the wire (shared/reference/real-peers.md §1).
function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from({ length: t.length / 2 }, (_, i) => Number.parseInt(t.slice(2 * i, 2 * i + 2), 16));
}
const ascii = (s: string) => new TextEncoder().encode(s);
function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const STATE = "/local/domain/1/device/vif/0/state";
const REAL: [string, Uint8Array, XsMsgRepr][] = [
  [
    "READ request",
    hex("02000000 00000000 00000000 15000000 2f6c6f63616c2f646f6d61696e2f302f6e616d6500"),
    { type: XS_READ, reqId: 0, txId: 0, payload: ascii("/local/domain/0/name\0") },
  ],
  [
    "READ reply (no trailing NUL)",
    hex("02 00 00 00 00 00 00 00 00 00 00 00 08 00 00 00 44 6f 6d 61 69 6e 2d 30"),
    { type: XS_READ, reqId: 0, txId: 0, payload: ascii("Domain-0") },
  ],
  [
    "ENOENT error",
    hex("10 00 00 00 00 00 00 00 00 00 00 00 07 00 00 00 45 4e 4f 45 4e 54 00"),
    { type: XS_ERROR, reqId: 0, txId: 0, payload: ascii("ENOENT\0") },
  ],
  [
    "WRITE request",
    cat(
      hex("0b000000 00000000 00000000 32000000"),
      ascii("/local/domain/1/device/vif/0/mac\x0000:16:3e:00:00:01"),
    ),
    {
      type: XS_WRITE,
      reqId: 0,
      txId: 0,
      payload: ascii("/local/domain/1/device/vif/0/mac\x0000:16:3e:00:00:01"),
    },
  ],
  [
    "TRANSACTION_START reply",
    hex("06 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 31 00"),
    { type: XS_TRANSACTION_START, reqId: 0, txId: 0, payload: ascii("1\0") },
  ],
  [
    "WATCH_EVENT",
    cat(hex("0f000000 00000000 00000000 46000000"), ascii(`${STATE}\0${STATE}\0`)),
    { type: XS_WATCH_EVENT, reqId: 0, txId: 0, payload: ascii(`${STATE}\0${STATE}\0`) },
  ],
];

test("parseXsMsg reads the real xenstore-utils byte dumps and emit reproduces them", () => {
  for (const [name, bytes, want] of REAL) {
    assert.deepEqual(parseXsMsg(bytes), want, name);
    assert.deepEqual(xsMsgBytes(want), bytes, name);
  }
});

test("payload helpers on the real dumps", () => {
  const [read, reply, err, write, txStart, event] = REAL.map(([, , r]) => r.payload);
  assert.deepEqual(splitXsStrings(read), ["/local/domain/0/name"]);
  assert.ok(isParseError(splitXsStrings(reply)), "a READ reply has no final NUL");
  assert.deepEqual(splitXsStrings(err), ["ENOENT"]);
  assert.equal(xsdErrnum("ENOENT"), 2);
  assert.deepEqual(splitXsStrings(txStart), ["1"]);
  assert.deepEqual(splitXsStrings(event), [STATE, STATE]);
  const pv = splitXsPathValue(write);
  assert.ok(!isParseError(pv));
  assert.equal(pv.path, "/local/domain/1/device/vif/0/mac");
  assert.deepEqual(pv.value, ascii("00:16:3e:00:00:01"));
  assert.deepEqual(joinXsStrings([STATE, STATE]), event);
  assert.deepEqual(joinXsStrings([""]), hex("00"), "TRANSACTION_START request payload");
});

test("splitXsStrings: empty, lone NUL, DIRECTORY_PART's trailing empty string, missing NUL", () => {
  assert.deepEqual(splitXsStrings(new Uint8Array(0)), []);
  assert.deepEqual(splitXsStrings(hex("00")), [""]);
  assert.deepEqual(splitXsStrings(ascii("7\0a\0b\0\0")), ["7", "a", "b", ""]);
  assert.ok(isParseError(splitXsStrings(ascii("a\0b"))));
  assert.ok(isParseError(splitXsPathValue(ascii("no-nul"))));
});

test("every strict prefix of a message is need-more, never an error", () => {
  for (const [name, bytes] of REAL) {
    for (let n = 0; n < bytes.length; n++) {
      const r = parseXsMsg(bytes.subarray(0, n));
      assert.ok(isXsNeedMore(r), `${name} cut at ${n}`);
      assert.ok(!isParseError(r));
      assert.equal(r.need, n < XSD_SOCKMSG_SIZE ? XSD_SOCKMSG_SIZE : bytes.length);
    }
  }
});

test("a declared len over XENSTORE_PAYLOAD_MAX is too-long, even before the payload arrives", () => {
  const h = hex("02000000 00000000 00000000 01100000");
  const r = parseXsMsg(h);
  assert.ok(isXsTooLong(r));
  assert.ok(isParseError(r));
  assert.equal(r.tooLong, 4097);
  assert.ok(isXsTooLong(parseXsHeader(hex("00000000 00000000 00000000 ffffffff"))));
  const max = new Uint8Array(XSD_SOCKMSG_SIZE + XENSTORE_PAYLOAD_MAX);
  max.set(hex("00100000"), 12);
  const ok = parseXsMsg(max);
  assert.ok(!isXsTooLong(ok) && !isXsNeedMore(ok));
  assert.equal(ok.payload.length, XENSTORE_PAYLOAD_MAX);
});

test("parseXsMsg copies the payload and reads at an offset inside a stream buffer", () => {
  const stream = cat(REAL[0][1], REAL[4][1]);
  const first = parseXsMsg(stream);
  assert.ok(!isXsNeedMore(first) && !isXsTooLong(first));
  const second = parseXsMsg(stream, XSD_SOCKMSG_SIZE + first.payload.length);
  assert.deepEqual(second, REAL[4][2]);
  stream.fill(0);
  assert.deepEqual(first, REAL[0][2]);
});

function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const msgArb = rec({ type: u32, reqId: u32, txId: u32, payload: fc.uint8Array({ maxLength: 300 }) });

test("parse∘emit is the identity; emit writes exactly its bytes into a 0xa5 buffer", () => {
  fc.assert(
    fc.property(msgArb, fc.integer({ min: 0, max: 5 }), (r, at) => {
      const b = new Uint8Array(at + XSD_SOCKMSG_SIZE + r.payload.length + 3).fill(0xa5);
      assert.equal(emitXsMsg(r, b, at), XSD_SOCKMSG_SIZE + r.payload.length);
      assert.deepEqual(parseXsMsg(b, at), r);
      assert.ok(b.subarray(0, at).every((x) => x === 0xa5));
      assert.ok(b.subarray(b.length - 3).every((x) => x === 0xa5));
    }),
    { numRuns: 150 },
  );
  assert.throws(() => xsMsgBytes({ type: 0, reqId: 0, txId: 0, payload: new Uint8Array(4097) }));
});

test("joinXsStrings and splitXsStrings round-trip NUL-free strings", () => {
  fc.assert(
    fc.property(fc.array(fc.string().filter((s) => !s.includes("\0"))), (ss) => {
      assert.deepEqual(splitXsStrings(joinXsStrings(ss)), ss);
    }),
    { numRuns: 150 },
  );
});

test("random bytes never make the xenstore parsers throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: -2, max: 66 }), (b, at) => {
      const r = parseXsMsg(b, at);
      assert.ok(isXsNeedMore(r) || isXsTooLong(r) || r.payload.length <= XENSTORE_PAYLOAD_MAX);
      splitXsStrings(b);
      splitXsPathValue(b);
    }),
    { numRuns: 300 },
  );
});

test("type names, 4.17 validity and the error table", () => {
  assert.equal(xsTypeName(XS_READ), "XS_READ");
  assert.equal(xsTypeName(XS_DIRECTORY_PART), "XS_DIRECTORY_PART");
  assert.equal(xsTypeName(XS_GET_QUOTA), "XS_GET_QUOTA (master-only)");
  assert.equal(xsTypeName(20), "XS_UNKNOWN(20)");
  assert.equal(xsTypeName(0xffff), "XS_INVALID");
  assert.equal(XS_TYPE_COUNT, 23);
  assert.deepEqual(
    Array.from({ length: 28 }, (_, t) => t).filter((t) => !isXsType417(t)),
    [20, 23, 24, 25, 26, 27],
  );
  assert.equal(XSD_ERRORS.length, 16);
  assert.deepEqual(XSD_ERRORS[0], { errnum: 22, errstring: "EINVAL" });
  assert.deepEqual(XSD_ERRORS[15], { errnum: 1, errstring: "EPERM" });
  assert.equal(xsdErrstring(106), "EISCONN");
  assert.equal(xsdErrstring(9999), "EINVAL");
  assert.equal(xsdErrnum("EBOGUS"), undefined);
});
