import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import {
  emitIcmp,
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_HLEN,
  type IcmpRepr,
  icmpChecksum,
  icmpChecksumValid,
  icmpCode,
  icmpComputeChecksum,
  icmpEchoId,
  icmpEchoSequence,
  icmpFillChecksum,
  icmpReprLen,
  icmpType,
  parseIcmp,
  setIcmpChecksum,
  setIcmpCode,
  setIcmpEchoId,
  setIcmpEchoSequence,
  setIcmpType,
} from "../../../src/wire/net/icmp.js";
import { hex, poisoned, referenceChecksum } from "./fixtures.js";

/** An echo request shaped like Linux ping's: id 0x1c46, seq 1, 56 data bytes (0x00..0x37). */
const DATA = Uint8Array.from({ length: 56 }, (_, i) => i);
const ECHO: IcmpRepr = { type: ICMP_ECHO, code: 0, id: 0x1c46, sequence: 1, data: DATA };

/** The echo built by hand, its checksum from the reference implementation. */
function echoBytes(): Uint8Array {
  const b = new Uint8Array(ICMP_HLEN + DATA.length);
  b.set(hex("08 00 00 00 1c 46 00 01"));
  b.set(DATA, ICMP_HLEN);
  const c = referenceChecksum(b);
  b[2] = c >>> 8;
  b[3] = c & 0xff;
  return b;
}

test("ICMP type constants have their RFC 792 values", () => {
  assert.deepEqual([ICMP_ECHOREPLY, ICMP_ECHO], [0, 8]);
});

test("emitIcmp into a 0xa5 buffer writes the hand-built echo request", () => {
  const b = poisoned(icmpReprLen(ECHO) + 2);
  emitIcmp(ECHO, b, 1);
  assert.deepEqual(b.subarray(1, 1 + icmpReprLen(ECHO)), echoBytes());
  assert.equal(b[0], 0xa5);
  assert.equal(b[b.length - 1], 0xa5);
});

test("parseIcmp reads the hand-built echo request", () => {
  assert.deepEqual(parseIcmp(echoBytes()), ECHO);
});

test("Mem accessors read and the checksum helpers agree with the reference", () => {
  const m = privateMem(80);
  const e = echoBytes();
  m.u8.set(e, 6);
  assert.deepEqual(
    [icmpType(m, 6), icmpCode(m, 6), icmpEchoId(m, 6), icmpEchoSequence(m, 6)],
    [ICMP_ECHO, 0, 0x1c46, 1],
  );
  assert.equal(icmpChecksum(m, 6), (e[2] << 8) | e[3]);
  assert.equal(icmpComputeChecksum(m, 6, e.length), icmpChecksum(m, 6));
  assert.ok(icmpChecksumValid(m, 6, e.length));
  m.u8[6 + 30] ^= 0x40;
  assert.ok(!icmpChecksumValid(m, 6, e.length));
});

test("turning a request into a reply with setters keeps the checksum valid", () => {
  const m = privateMem(80);
  const e = echoBytes();
  m.u8.set(e);
  setIcmpType(m, 0, ICMP_ECHOREPLY);
  setIcmpCode(m, 0, 0);
  setIcmpEchoId(m, 0, 0x1c46);
  setIcmpEchoSequence(m, 0, 1);
  setIcmpChecksum(m, 0, 0xdead);
  icmpFillChecksum(m, 0, e.length);
  const reply = e.slice();
  reply[0] = 0;
  reply[2] = 0;
  reply[3] = 0;
  const c = referenceChecksum(reply);
  assert.equal(icmpChecksum(m, 0), c);
  // Type 8 -> 0 lowers the first word by 0x0800: the checksum rises by the same amount.
  assert.equal(c, (((e[2] << 8) | e[3]) + 0x0800) % 0xffff);
});

test("an odd-length message is checksummed with a zero pad byte", () => {
  const r: IcmpRepr = { type: ICMP_ECHO, code: 0, id: 7, sequence: 9, data: hex("61 62 63") };
  const b = new Uint8Array(icmpReprLen(r));
  emitIcmp(r, b);
  const zeroed = b.slice();
  zeroed[2] = 0;
  zeroed[3] = 0;
  assert.equal((b[2] << 8) | b[3], referenceChecksum(zeroed));
  assert.deepEqual(parseIcmp(b), r);
});

test("parseIcmp rejects a bad checksum and a message shorter than 8 bytes", () => {
  const e = echoBytes();
  e[20] ^= 1;
  assert.ok(isParseError(parseIcmp(e)));
  assert.ok(isParseError(parseIcmp(echoBytes(), 0, 7)));
  assert.ok(isParseError(parseIcmp(echoBytes(), 0, 100)), "end past the buffer");
  assert.ok(isParseError(parseIcmp(echoBytes(), 60)));
});

test("parseIcmp inverts emitIcmp", () => {
  const repr = fc.record<IcmpRepr>(
    {
      type: fc.nat({ max: 255 }),
      code: fc.nat({ max: 255 }),
      id: fc.nat({ max: 0xffff }),
      sequence: fc.nat({ max: 0xffff }),
      data: fc.uint8Array({ maxLength: 100 }),
    },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(repr, fc.nat({ max: 8 }), (r, at) => {
      const b = poisoned(at + icmpReprLen(r) + 3);
      emitIcmp(r, b, at);
      assert.deepEqual(parseIcmp(b, at, at + icmpReprLen(r)), r);
    }),
  );
});

test("parseIcmp never throws on random bytes and ranges", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 40 }),
      fc.integer({ min: -1, max: 41 }),
      fc.integer({ min: -1, max: 45 }),
      (b, at, end) => {
        parseIcmp(b, at, end);
      },
    ),
  );
});
