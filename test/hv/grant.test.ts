import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { createActiveTable, GrantOps, grantingDomain } from "../../src/hv/grant-ops.js";
import { createGrantTable, GrantTable } from "../../src/hv/grant-table.js";
import { memoryOf } from "../../src/hv/memory.js";
import { memOf, privateMem } from "../../src/wire/mem.js";
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST_bad_copy_arg,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_okay,
  GNTST_permission_denied,
  GNTTAB_COPY_SIZE,
  GTF_reading,
  GTF_writing,
  gcopyStatus,
  gcopyWrite,
  gntFlags,
} from "../../src/wire/xen/grant.js";

const PAGE = 4096;

/** Guest 1 (granter, 16 pages) and domain 0 (privileged, 8 pages) in one thread. */
function setup() {
  const gMemSab = new SharedArrayBuffer(16 * PAGE);
  const gTabSab = createGrantTable(1);
  const gAct = createActiveTable(512);
  const guest = new GrantTable(1, memOf(gTabSab));
  const gMem = memoryOf(1, gMemSab);
  const d0 = memoryOf(0, new SharedArrayBuffer(8 * PAGE));
  const ops = new GrantOps(0, d0);
  ops.addDomain(grantingDomain(1, gMemSab, memOf(gTabSab), gAct, gMem.mem));
  const flagsOf = (ref: number) => gntFlags(memOf(gTabSab), ref * 8);
  return { guest, gMem, d0, ops, flagsOf, gTab: memOf(gTabSab) };
}

type Ptr = { ref: number; domid: number; offset: number } | { gmfn: number; domid: number; offset: number };

function copyOp(src: Ptr, dst: Ptr, len: number) {
  const m = privateMem(GNTTAB_COPY_SIZE);
  let flags = 0;
  if ("ref" in src) flags |= GNTCOPY_source_gref;
  if ("ref" in dst) flags |= GNTCOPY_dest_gref;
  gcopyWrite(
    m,
    0,
    "ref" in src ? src.ref : src.gmfn,
    src.domid,
    src.offset,
    "ref" in dst ? dst.ref : dst.gmfn,
    dst.domid,
    dst.offset,
    len,
    flags,
  );
  return m;
}

test("map gives the granted page and marks the entry in use until unmap", () => {
  const { guest, gMem, ops, flagsOf } = setup();
  gMem.mem.u8[5 * PAGE + 10] = 0x5a;
  const ref = guest.grantAccess(0, 5, true);
  const h = ops.map(1, ref, true);
  assert.ok(h >= 0);
  assert.equal(ops.mappedOff(h), 5 * PAGE);
  assert.equal(ops.mappedMem(h).u8[ops.mappedOff(h) + 10], 0x5a);
  assert.equal(flagsOf(ref) & (GTF_reading | GTF_writing), GTF_reading);
  assert.equal(guest.endAccess(ref), false, "end access is refused while mapped");
  assert.equal(ops.liveMappings, 1);
  assert.equal(ops.unmap(h), GNTST_okay);
  assert.equal(flagsOf(ref) & (GTF_reading | GTF_writing), 0);
  assert.equal(ops.unmap(h), GNTST_bad_handle, "a stale handle is refused");
  assert.equal(guest.endAccess(ref), true);
  assert.equal(guest.liveGrants, 0);
});

test("map answers each bad request with Xen's status", () => {
  const { guest, ops } = setup();
  const ro = guest.grantAccess(0, 3, true);
  const other = guest.grantAccess(2, 4, false);
  assert.equal(ops.map(7, ro, true), GNTST_bad_domain);
  assert.equal(ops.map(1, 512, true), GNTST_bad_gntref);
  assert.equal(ops.map(1, -1, true), GNTST_bad_gntref);
  assert.equal(ops.map(1, ro, false), GNTST_general_error, "write map of a readonly grant");
  assert.equal(ops.map(1, other, true), GNTST_general_error, "granted to another domain");
  assert.equal(ops.map(1, 100, true), GNTST_general_error, "never granted");
  const bigFrame = guest.grantAccess(0, 99, true);
  assert.equal(ops.map(1, bigFrame, true), GNTST_general_error, "frame outside the granter's memory");
  assert.equal(ops.unmap(12345), GNTST_bad_handle);
  assert.equal(ops.liveMappings, 0);
});

test("two mappings of one grant keep it in use until the last one ends; write pins add GTF_writing", () => {
  const { guest, ops, flagsOf } = setup();
  const ref = guest.grantAccess(0, 2, false);
  const r = ops.map(1, ref, true);
  const w = ops.map(1, ref, false);
  assert.equal(flagsOf(ref) & (GTF_reading | GTF_writing), GTF_reading | GTF_writing);
  ops.unmap(w);
  assert.equal(flagsOf(ref) & (GTF_reading | GTF_writing), GTF_reading);
  assert.equal(guest.endAccess(ref), false);
  ops.unmap(r);
  assert.equal(flagsOf(ref) & (GTF_reading | GTF_writing), 0);
  assert.equal(guest.endAccess(ref), true);
});

test("the frame read at the first pin stays in force whatever the guest writes meanwhile", () => {
  const { guest, ops, gTab } = setup();
  const ref = guest.grantAccess(0, 6, true);
  const h1 = ops.map(1, ref, true);
  gTab.u32[(ref * 8 + 4) >>> 2] = 9; // the guest rewrites the frame under the mapping
  const h2 = ops.map(1, ref, true);
  assert.equal(ops.mappedOff(h2), 6 * PAGE);
  ops.unmap(h1);
  ops.unmap(h2);
});

test("grant copy moves bytes by gref and by local frame, one status per op", () => {
  const { guest, gMem, d0, ops } = setup();
  for (let i = 0; i < 100; i++) gMem.mem.u8[4 * PAGE + 200 + i] = i;
  const src = guest.grantAccess(0, 4, true);
  const dst = guest.grantAccess(0, 7, false);
  // guest page 4 -> dom0 page 2
  const a = copyOp({ ref: src, domid: 1, offset: 200 }, { gmfn: 2, domid: DOMID_SELF, offset: 10 }, 100);
  assert.equal(ops.copy(a, 0, 1), 0);
  assert.equal(gcopyStatus(a, 0), GNTST_okay);
  assert.deepEqual([...d0.mem.u8.subarray(2 * PAGE + 10, 2 * PAGE + 110)], [...Array(100).keys()]);
  // dom0 page 2 -> guest page 7
  const b = copyOp({ gmfn: 2, domid: 0, offset: 10 }, { ref: dst, domid: 1, offset: 4000 }, 96);
  assert.equal(ops.copy(b, 0, 1), 0);
  assert.deepEqual([...gMem.mem.u8.subarray(7 * PAGE + 4000, 7 * PAGE + 4096)], [...Array(96).keys()]);
});

test("grant copy statuses: readonly dest, page crossing, foreign frame, bad domain, bad ref, bad page", () => {
  const { guest, ops } = setup();
  const ro = guest.grantAccess(0, 4, true);
  const cases: [Ptr, Ptr, number, number][] = [
    [{ gmfn: 1, domid: 0, offset: 0 }, { ref: ro, domid: 1, offset: 0 }, 8, GNTST_general_error],
    [{ ref: ro, domid: 1, offset: 4090 }, { gmfn: 1, domid: 0, offset: 0 }, 8, GNTST_bad_copy_arg],
    [{ ref: ro, domid: 1, offset: 0 }, { gmfn: 1, domid: 0, offset: 4095 }, 2, GNTST_bad_copy_arg],
    [{ gmfn: 1, domid: 1, offset: 0 }, { gmfn: 2, domid: 0, offset: 0 }, 8, GNTST_permission_denied],
    [{ ref: ro, domid: 9, offset: 0 }, { gmfn: 1, domid: 0, offset: 0 }, 8, GNTST_bad_domain],
    [{ ref: 4000, domid: 1, offset: 0 }, { gmfn: 1, domid: 0, offset: 0 }, 8, GNTST_bad_gntref],
    [{ ref: ro, domid: 1, offset: 0 }, { gmfn: 8, domid: DOMID_SELF, offset: 0 }, 8, GNTST_bad_page],
  ];
  for (const [s, d, len, want] of cases) {
    const m = copyOp(s, d, len);
    assert.equal(ops.copy(m, 0, 1), 1);
    assert.equal(gcopyStatus(m, 0), want, JSON.stringify([s, d, len]));
  }
  assert.equal(guest.endAccess(ro), true, "failed copies leave nothing pinned");
});

test("a copy batch pins an entry once per run and releases everything at the end", () => {
  const { guest, gMem, ops, flagsOf } = setup();
  const src = guest.grantAccess(0, 3, true);
  const n = 16;
  const m = privateMem(n * GNTTAB_COPY_SIZE);
  for (let i = 0; i < n; i++) {
    gMem.mem.u8[3 * PAGE + i * 10] = i + 1;
    gcopyWrite(m, i * GNTTAB_COPY_SIZE, src, 1, i * 10, 5, DOMID_SELF, i, 1, GNTCOPY_source_gref);
  }
  assert.equal(ops.copy(m, 0, n), 0);
  for (let i = 0; i < n; i++) assert.equal(gcopyStatus(m, i * GNTTAB_COPY_SIZE), GNTST_okay);
  assert.equal(flagsOf(src) & (GTF_reading | GTF_writing), 0);
  assert.equal(guest.endAccess(src), true);
});

test("fuzz: random grant entries and copy ops never throw and never leave an entry marked in use", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffffffff)), {
        minLength: 16,
        maxLength: 16,
      }),
      fc.array(fc.array(fc.nat(0xffffffff), { minLength: 10, maxLength: 10 }), {
        minLength: 1,
        maxLength: 12,
      }),
      (entries, rawOps) => {
        const { ops, gTab } = setup();
        // The guest writes garbage into refs 8..23.
        entries.forEach(([flags, domid, frame], i) => {
          const at = (8 + i) * 8;
          gTab.u16[at >>> 1] = flags & ~(GTF_reading | GTF_writing);
          gTab.u16[(at + 2) >>> 1] = domid;
          gTab.u32[(at + 4) >>> 2] = frame;
        });
        const m = privateMem(rawOps.length * GNTTAB_COPY_SIZE);
        rawOps.forEach((words, i) => {
          for (let w = 0; w < 10; w++) m.u32[i * 10 + w] = words[w];
          // Aim the refs and domids at the interesting range often enough.
          m.u16[(i * GNTTAB_COPY_SIZE + 8) >>> 1] = words[0] & 1 ? 1 : words[1] & 0xffff;
          m.u32[(i * GNTTAB_COPY_SIZE) >>> 2] = words[2] & 1 ? 8 + (words[3] & 15) : words[4];
        });
        const failed = ops.copy(m, 0, rawOps.length);
        assert.ok(failed >= 0 && failed <= rawOps.length);
        for (let i = 0; i < rawOps.length; i++) {
          const st = gcopyStatus(m, i * GNTTAB_COPY_SIZE);
          assert.ok(st <= 0 && st >= -13, `status ${st}`);
        }
        for (let r = 8; r < 24; r++) assert.equal(gTab.u16[(r * 8) >>> 1] & (GTF_reading | GTF_writing), 0);
        for (let r = 0; r < 40; r++) {
          const h = ops.map(1, r, (r & 1) === 0);
          if (h >= 0) assert.equal(ops.unmap(h), GNTST_okay);
        }
        assert.equal(ops.liveMappings, 0);
      },
    ),
    { numRuns: 200 },
  );
});

test("releasing a dead domain ends all of its mappings", () => {
  const { guest, ops } = setup();
  for (let p = 0; p < 5; p++) ops.map(1, guest.grantAccess(0, p, true), true);
  assert.equal(ops.liveMappings, 5);
  assert.equal(ops.releaseDomain(1), 5);
  assert.equal(ops.liveMappings, 0);
  assert.equal(ops.map(1, 8, true), GNTST_bad_domain);
});
