import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isParseError } from "../../../src/wire/layout.js";
import { privateMem } from "../../../src/wire/mem.js";
import {
  allocUnboundDom,
  allocUnboundPort,
  allocUnboundRemoteDom,
  allocUnboundSetPort,
  allocUnboundWrite,
  bindInterdomainLocalPort,
  bindInterdomainRemoteDom,
  bindInterdomainRemotePort,
  bindInterdomainSetLocalPort,
  bindInterdomainWrite,
  EVTCHN_2L_NR_CHANNELS,
  EVTCHN_BIND_INTERDOMAIN_FIELDS,
  EVTCHNOP_alloc_unbound,
  EVTCHNOP_bind_interdomain,
  EVTCHNOP_send,
  EVTCHNSTAT_interdomain,
  emitAllocUnbound,
  emitBindInterdomain,
  emitEvtchnPort,
  evtchnPort,
  evtchnSetPort,
  parseAllocUnbound,
  parseBindInterdomain,
  parseEvtchnPort,
} from "../../../src/wire/xen/evtchn.js";

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

test("event channel constants", () => {
  assert.deepEqual([EVTCHNOP_bind_interdomain, EVTCHNOP_send, EVTCHNOP_alloc_unbound], [0, 4, 6]);
  assert.equal(EVTCHNSTAT_interdomain, 2);
  assert.equal(EVTCHN_2L_NR_CHANNELS, 4096);
  assert.deepEqual(EVTCHN_BIND_INTERDOMAIN_FIELDS.remote_port, [4, 4]);
});

test("alloc_unbound vector: dom SELF, remote 0, port out", () => {
  const m = privateMem(16);
  m.u8.fill(0xa5);
  allocUnboundWrite(m, 8, 0x7ff0, 0);
  assert.deepEqual(m.u8.subarray(8), hex("f07f 0000 00000000"));
  allocUnboundSetPort(m, 8, 5);
  assert.deepEqual(
    [allocUnboundDom(m, 8), allocUnboundRemoteDom(m, 8), allocUnboundPort(m, 8)],
    [0x7ff0, 0, 5],
  );
  assert.deepEqual(parseAllocUnbound(m.u8, 8), { dom: 0x7ff0, remoteDom: 0, port: 5 });
  assert.ok(m.u8.subarray(0, 8).every((b) => b === 0xa5));
});

test("bind_interdomain vector: remote_port at 4 after 2 bytes of padding", () => {
  const m = privateMem(16);
  m.u8.fill(0xa5);
  bindInterdomainWrite(m, 0, 3, 0x01020304);
  bindInterdomainSetLocalPort(m, 0, 9);
  assert.deepEqual(m.u8.subarray(0, 12), hex("0300 0000 04030201 09000000"));
  assert.deepEqual(
    [bindInterdomainRemoteDom(m, 0), bindInterdomainRemotePort(m, 0), bindInterdomainLocalPort(m, 0)],
    [3, 0x01020304, 9],
  );
  evtchnSetPort(m, 12, 0xfffffffe);
  assert.deepEqual(m.u8.subarray(12), hex("feffffff"));
  assert.equal(evtchnPort(m, 12), 0xfffffffe);
});

test("parse∘emit is the identity; emit writes exactly its bytes", () => {
  const b = new Uint8Array(20);
  fc.assert(
    fc.property(
      rec({ dom: u16, remoteDom: u16, port: u32 }),
      rec({ remoteDom: u16, remotePort: u32, localPort: u32 }),
      rec({ port: u32 }),
      (a, i, p) => {
        b.fill(0xa5);
        emitBindInterdomain(i, b, 4);
        assert.deepEqual(parseBindInterdomain(b, 4), i);
        assert.deepEqual([b[3], b[6], b[7], b[16]], [0xa5, 0, 0, 0xa5]);
        emitAllocUnbound(a, b, 0);
        assert.deepEqual(parseAllocUnbound(b, 0), a);
        emitEvtchnPort(p, b, 16);
        assert.deepEqual(parseEvtchnPort(b, 16), p);
      },
    ),
    RUNS,
  );
});

test("evtchn parsers never throw on random bytes and offsets", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 16 }), fc.integer({ min: -4, max: 18 }), (b, at) => {
      assert.equal(isParseError(parseAllocUnbound(b, at)), at < 0 || at + 8 > b.length);
      assert.equal(isParseError(parseBindInterdomain(b, at)), at < 0 || at + 12 > b.length);
      assert.equal(isParseError(parseEvtchnPort(b, at)), at < 0 || at + 4 > b.length);
    }),
    RUNS,
  );
});
