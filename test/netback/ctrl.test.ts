import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PAGE_SIZE } from "../../src/hv/memory.js";
import { CTRL_HASH_FLAGS } from "../../src/netback/ctrl.js";
import { STAGING_GRANTS_PER_QUEUE } from "../../src/netback/staging.js";
import { symmetricRssKey } from "../../src/wire/net/rss.js";
import {
  XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING as ADD,
  XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING as DEL,
  XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS as GET_FLAGS,
  XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE as GET_MAP_SIZE,
  XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE as GREF_SIZE,
  XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER as INVALID,
  XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED as NOT_SUPPORTED,
  XEN_NETIF_CTRL_STATUS_SUCCESS as OK,
  XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW as OVERFLOW,
  XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM as SET_ALG,
  XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS as SET_FLAGS,
  XEN_NETIF_CTRL_TYPE_SET_HASH_KEY as SET_KEY,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING as SET_MAP,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE as SET_MAP_SIZE,
  XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ as TOEPLITZ,
} from "../../src/wire/xen/netif-ctrl.js";
import { type Guest, OneThread } from "./harness.js";

/** A page of the guest's granted to Domain-0 holding `bytes`; its ref. */
function table(g: Guest, bytes: Uint8Array, readonly = true): { ref: number; page: number } {
  const page = g.alloc();
  g.mem.u8.set(bytes, page * PAGE_SIZE);
  return { ref: g.grants.grantAccess(0, page, readonly), page };
}
function u32s(xs: number[]): Uint8Array {
  return new Uint8Array(Uint32Array.from(xs).buffer);
}
function grefList(refs: number[], flags = 0): Uint8Array {
  const b = new Uint8Array(refs.length * 8);
  const dv = new DataView(b.buffer);
  refs.forEach((r, i) => {
    dv.setUint32(i * 8, r >>> 0, true);
    dv.setUint16(i * 8 + 4, flags, true);
    dv.setUint16(i * 8 + 6, 0xeeee, true);
  });
  return b;
}

test("ctrl: every request type answered with Linux's statuses; unknown types NOT_SUPPORTED", () => {
  const t = new OneThread();
  const g = t.addGuest(undefined, {}, 2, { staging: true });
  const r = g.ctrlReq;
  assert.equal(r(0).status, NOT_SUPPORTED, "INVALID");
  assert.equal(r(11).status, NOT_SUPPORTED);
  assert.equal(r(0xffff).status, NOT_SUPPORTED);
  assert.deepEqual(r(GET_FLAGS), { status: OK, data: CTRL_HASH_FLAGS });
  assert.equal(r(SET_FLAGS, 1).status, INVALID, "flags before an algorithm");
  assert.equal(r(SET_ALG, 2).status, INVALID, "unknown algorithm");
  assert.equal(r(SET_ALG, TOEPLITZ).status, OK);
  assert.equal(r(SET_FLAGS, 0x10).status, INVALID, "unknown type bit");
  assert.equal(r(SET_FLAGS, 0xf).status, OK);
  // Key: too long, bad gref, good (bytes past its length zero).
  const key = table(g, symmetricRssKey(40));
  assert.equal(r(SET_KEY, key.ref, 41).status, OVERFLOW);
  assert.equal(r(SET_KEY, 0xfffff, 40).status, INVALID, "a ref past the grant table");
  assert.equal(r(SET_KEY, key.ref, 40).status, OK);
  assert.deepEqual([...g.ctrl!.hash.hasher.key], [...symmetricRssKey(40)]);
  assert.equal(g.ctrl!.hash.hasher.keyLen, 40);
  assert.deepEqual(r(GET_MAP_SIZE), { status: OK, data: 128 });
  assert.equal(r(SET_MAP_SIZE, 129).status, INVALID);
  assert.equal(r(SET_MAP_SIZE, 64).status, OK);
  // Mapping: XSA-270's cases, each refused without touching the table.
  const good = table(g, u32s(Array.from({ length: 64 }, (_, i) => i & 1)));
  const bad = table(g, u32s([0, 1, 2, 0]));
  assert.equal(r(SET_MAP, good.ref, 2, 0xffffffff).status, INVALID, "offset + length wraps a u32");
  assert.equal(r(SET_MAP, good.ref, 8, 60).status, INVALID, "past the table size");
  assert.equal(r(SET_MAP, good.ref, 1025, 0).status, INVALID, "more than a page");
  assert.equal(r(SET_MAP, bad.ref, 4, 0).status, INVALID, "an entry not below the queue count");
  assert.deepEqual([...g.ctrl!.hash.mapping.subarray(0, 4)], [0, 0, 0, 0], "nothing committed");
  assert.equal(r(SET_MAP, good.ref, 64, 0).status, OK);
  assert.deepEqual([...g.ctrl!.hash.mapping.subarray(0, 4)], [0, 1, 0, 1]);
  assert.equal(r(SET_MAP, good.ref, 4, 60).status, OK, "a sub-table at an offset");
  assert.equal(r(GREF_SIZE, 0).data, STAGING_GRANTS_PER_QUEUE);
  assert.equal(r(GREF_SIZE, 2).status, INVALID, "queue index out of range");
});

test("ctrl: staging switched off answers the GREF types NOT_SUPPORTED, as Linux", () => {
  const t = new OneThread();
  const g = t.addGuest(undefined, {}, 1, { staging: false });
  for (const type of [GREF_SIZE, ADD, DEL]) assert.equal(g.ctrlReq(type).status, NOT_SUPPORTED);
});

test("ctrl: hostile gref tables (duplicates, bad refs, too many, other queue) add nothing; DEL reports per entry", () => {
  const t = new OneThread();
  const g = t.addGuest(undefined, {}, 1, { staging: true, stagingMax: 8 });
  const base = t.liveMappings;
  const refs = Array.from({ length: 6 }, () => g.grants.grantAccess(0, g.alloc(), false));
  const add = (list: number[], q = 0): number =>
    g.ctrlReq(ADD, q, table(g, grefList(list)).ref, list.length).status;
  assert.equal(add([refs[0], refs[1], refs[0]]), INVALID, "a duplicate in the list");
  assert.equal(add([refs[0], 0xfffff]), INVALID, "a bad ref");
  assert.equal(add(Array.from({ length: 9 }, (_, i) => refs[i % 6] + i * 0)), INVALID, "past the bound");
  assert.equal(add([refs[0]], 1), INVALID, "a queue the vif does not have");
  assert.equal(g.ctrlReq(ADD, 0, 0xfffff, 1).status, INVALID, "the list's own ref is bad");
  assert.equal(t.liveMappings, base, "no mapping left behind");
  assert.equal(add(refs.slice(0, 4)), OK);
  assert.equal(t.liveMappings, base + 4);
  assert.equal(g.ctrl!.stagedGrants, 4);
  assert.equal(add([refs[4], refs[2]]), INVALID, "already staged");
  assert.equal(g.ctrl!.stagedGrants, 4);
  // The guest cannot take back a staged page while Domain-0 maps it.
  assert.equal(g.grants.endAccess(refs[1]), false, "revoke while mapped refused");
  const list = table(g, grefList([refs[1], refs[5], refs[3]]), false);
  const rsp = g.ctrlReq(DEL, 0, list.ref, 3);
  assert.deepEqual(rsp, { status: OK, data: 2 });
  const dv = new DataView(g.mem.u8.buffer, list.page * PAGE_SIZE);
  assert.deepEqual(
    [0, 1, 2].map((i) => dv.getUint16(i * 8 + 6, true)),
    [OK, INVALID, OK],
  );
  assert.equal(t.liveMappings, base + 2);
  assert.equal(g.grants.endAccess(refs[1]), true, "revoked once deleted");
  assert.equal(
    g.ctrlReq(DEL, 0, table(g, grefList([refs[0]]), true).ref, 1).status,
    INVALID,
    "a read-only list cannot take statuses",
  );
  g.ctrl!.close(true);
  assert.equal(t.liveMappings, base, "close unmaps what is staged");
});

test("ctrl: any request sequence is answered with a defined status, never throws", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 12 }),
          fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(0xffffffff)),
          fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(0xffffffff)),
          fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constant(0xffffffff)),
        ),
        { maxLength: 30 },
      ),
      (reqs) => {
        const t = new OneThread(64);
        const g = t.addGuest(undefined, {}, 2, { staging: true, stagingMax: 16 });
        for (const [type, a, b, c] of reqs) {
          const { status } = g.ctrlReq(type, a, b, c);
          assert.ok([OK, NOT_SUPPORTED, INVALID, OVERFLOW].includes(status));
        }
        const m = g.ctrl!.hash.mapping;
        for (let i = 0; i < m.length; i++) assert.ok(m[i] < 2, "every entry below the queue count");
      },
    ),
    { numRuns: 60 },
  );
});

test("property: staged grefs are u32s: any ref up to 2^32 - 1 the grant table maps is found by that number, deleted by it, and unmapped", () => {
  const near = fc.integer({ min: 0x7fffff00, max: 0x800000ff });
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.oneof(fc.nat({ max: 0xffffffff }), near), { minLength: 1, maxLength: 8 }),
      (refs) => {
        // No grant table holds 2^31 entries, so Domain-0's map is given a wider one: the run's
        // i-th ref stands for the i-th of eight grants of the guest's own.
        const t = new OneThread();
        const g = t.addGuest(undefined, {}, 1, { staging: true, stagingMax: 64 });
        const real = Array.from({ length: 8 }, () => g.grants.grantAccess(0, g.alloc(), false));
        const addList = g.alloc();
        const delList = g.alloc();
        const addRef = g.grants.grantAccess(0, addList, true);
        const delRef = g.grants.grantAccess(0, delList, false);
        const gnt = t.dom0.gnt;
        const realMap = gnt.map.bind(gnt);
        const alias = new Map(refs.map((r, i) => [r, real[i]!]));
        gnt.map = (domid: number, ref: number, readonly: boolean): number =>
          realMap(domid, alias.get(ref) ?? ref, readonly);
        const base = t.liveMappings;
        const st = g.ctrl!.staging(0)!;
        g.mem.u8.set(grefList(refs), addList * PAGE_SIZE);
        assert.equal(g.ctrlReq(ADD, 0, addRef, refs.length).status, OK);
        assert.equal(t.liveMappings, base + refs.length);
        for (const r of refs) assert.ok(st.find(r) >= 0, `gref ${r} found by its u32 value`);
        g.mem.u8.set(grefList(refs), delList * PAGE_SIZE);
        assert.deepEqual(g.ctrlReq(DEL, 0, delRef, refs.length), { status: OK, data: refs.length });
        const dv = new DataView(g.mem.u8.buffer, delList * PAGE_SIZE);
        assert.deepEqual(
          refs.map((_, i) => dv.getUint16(i * 8 + 6, true)),
          refs.map(() => OK),
          "each entry deleted by its number",
        );
        assert.equal(t.liveMappings, base, "every mapping ended");
        assert.equal(g.ctrl!.stagedGrants, 0);
      },
    ),
    { numRuns: 50 },
  );
});
