import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
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
  GNTST_no_device_space,
  GNTST_okay,
  GNTST_permission_denied,
  GNTTAB_COPY_SIZE,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_type_mask,
  GTF_writing,
  gcopyStatus,
  gcopyWrite,
  gntFlags,
} from "../../src/wire/xen/grant.js";
import type { Init as ScribblerInit } from "./programs/grant-scribbler.js";

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

test("pinsHeld counts read and write pins across granters, for leak checks", () => {
  const { guest, ops } = setup();
  const a = guest.grantAccess(0, 2, false);
  const b = guest.grantAccess(0, 3, false);
  assert.equal(ops.pinsHeld(), 0);
  const r = ops.map(1, a, true);
  const w = ops.map(1, a, false);
  const x = ops.map(1, b, false);
  assert.equal(ops.pinsHeld(), 3);
  ops.unmap(w);
  assert.equal(ops.pinsHeld(), 2);
  ops.unmap(r);
  ops.unmap(x);
  assert.equal(ops.pinsHeld(), 0);
  ops.map(1, b, true);
  ops.releaseDomain(1);
  assert.equal(ops.pinsHeld(), 0, "a released granter's pins are gone with it");
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

test("releasing a dead domain ends all of its mappings", () => {
  const { guest, ops } = setup();
  for (let p = 0; p < 5; p++) ops.map(1, guest.grantAccess(0, p, true), true);
  assert.equal(ops.liveMappings, 5);
  assert.equal(ops.releaseDomain(1), 5);
  assert.equal(ops.liveMappings, 0);
  assert.equal(ops.map(1, 8, true), GNTST_bad_domain);
});

/** A second granter (domain 2) for the tests that need two guests. */
function addGuest(ops: GrantOps, domid: number, pages = 16) {
  const memSab = new SharedArrayBuffer(pages * PAGE);
  const tabSab = createGrantTable(1);
  const act = createActiveTable(512);
  ops.addDomain(grantingDomain(domid, memSab, memOf(tabSab), act, memoryOf(domid, memSab).mem));
  return { guest: new GrantTable(domid, memOf(tabSab)), act: new Int32Array(act) };
}

test("one guest's grants cannot take the map handles another guest needs: each granter has its own bound", () => {
  const { guest, ops } = setup();
  const b = addGuest(ops, 2);
  assert.deepEqual(ops.mappingsOf(1), { maps: 0, limit: 512 }, "default bound: one per grant entry");
  const ref = guest.grantAccess(0, 3, true);
  const held: number[] = [];
  for (let i = 0; i < 512; i++) {
    const h = ops.map(1, ref, true);
    assert.ok(h >= 0, `map ${i}: ${h}`);
    held.push(h);
  }
  assert.equal(ops.map(1, ref, true), GNTST_no_device_space, "guest 1 is at its bound");
  assert.equal(ops.map(1, guest.grantAccess(0, 4, true), true), GNTST_no_device_space);
  const bRef = b.guest.grantAccess(0, 5, false);
  const hb = ops.map(2, bRef, false);
  assert.ok(hb >= 0, "guest 2 still maps");
  assert.equal(ops.unmap(held.pop()!), GNTST_okay);
  const again = ops.map(1, ref, true);
  assert.ok(again >= 0, "an unmap gives guest 1 one mapping back");
  held.push(again);
  assert.equal(ops.releaseDomain(1), 512);
  assert.equal(ops.unmap(hb), GNTST_okay);
  assert.equal(ops.liveMappings, 0);
});

test("the per-granter bound is configurable and a refused map pins nothing", () => {
  const d0 = memoryOf(0, new SharedArrayBuffer(8 * PAGE));
  const ops = new GrantOps(0, d0, { mapsPerDomain: 3 });
  const a = addGuest(ops, 1);
  const b = addGuest(ops, 2);
  const refs = [0, 1, 2, 3].map((p) => a.guest.grantAccess(0, p, true));
  for (let i = 0; i < 3; i++) assert.ok(ops.map(1, refs[i], true) >= 0);
  assert.equal(ops.map(1, refs[3], true), GNTST_no_device_space);
  assert.equal(a.guest.isInUse(refs[3]), false, "the refused entry is not marked in use");
  assert.equal(a.act[refs[3] * 4] & 0x3fffffff, 0, "nor pinned");
  assert.equal(a.guest.endAccess(refs[3]), true);
  for (let i = 0; i < 3; i++) assert.ok(ops.map(2, b.guest.grantAccess(0, i, true), true) >= 0);
  assert.deepEqual(ops.mappingsOf(2), { maps: 3, limit: 3 });
});

test("a stale handle fails with GNTST_bad_handle and leaves the mapping that reuses its slot intact", () => {
  const { guest, ops, flagsOf } = setup();
  const old = ops.map(1, guest.grantAccess(0, 2, true), true);
  assert.ok(old >= 0);
  // The granter dies while its backend awaits something; its mappings are ended.
  assert.equal(ops.releaseDomain(1), 1);
  const b = addGuest(ops, 2);
  const ref = b.guest.grantAccess(0, 6, false);
  const fresh = ops.map(2, ref, false);
  assert.ok(fresh >= 0);
  assert.equal(fresh & 0xfffff, old & 0xfffff, "the new mapping took the old one's slot");
  assert.notEqual(fresh, old);
  assert.equal(ops.unmap(old), GNTST_bad_handle);
  assert.equal(ops.mappedOff(old), -1);
  assert.throws(() => ops.mappedMem(old), RangeError);
  assert.equal(b.guest.isInUse(ref), true, "the new mapping's pins are intact");
  assert.equal(b.act[ref * 4] & 0x3fffffff, 1 << 15);
  assert.equal(ops.mappedOff(fresh), 6 * PAGE);
  for (const bad of [-1, 1.5, 2 ** 31, 2 ** 40 + (fresh & 0xfffff), Number.NaN])
    assert.equal(ops.unmap(bad), GNTST_bad_handle, String(bad));
  assert.equal(ops.unmap(fresh), GNTST_okay);
  assert.equal(b.guest.isInUse(ref), false);
  void flagsOf;
});

test("a grant's flags or domid rewritten while it is pinned: the pin holds, new write pins are refused", () => {
  const { guest, ops, gTab, flagsOf } = setup();
  const ref = guest.grantAccess(0, 4, false);
  const h = ops.map(1, ref, true);
  assert.ok(h >= 0);
  gTab.u16[(ref * 8 + 2) >>> 1] = 7; // now "granted" to domain 7
  const h2 = ops.map(1, ref, true);
  assert.ok(h2 >= 0, "a further read pin uses the active entry, as Xen does");
  assert.equal(ops.mappedOff(h2), 4 * PAGE);
  assert.equal(ops.map(1, ref, false), GNTST_general_error, "a first write pin rechecks the entry");
  gTab.u16[(ref * 8) >>> 1] = GTF_permit_access | GTF_readonly | GTF_reading;
  gTab.u16[(ref * 8 + 2) >>> 1] = 0;
  assert.equal(ops.map(1, ref, false), GNTST_general_error, "now read-only");
  ops.unmap(h);
  ops.unmap(h2);
  assert.equal(flagsOf(ref) & (GTF_reading | GTF_writing), 0);
  assert.equal(ops.liveMappings, 0);
});

// --- Races with a real second thread -------------------------------------------------------

function scribbler(init: Omit<ScribblerInit, "ctl">) {
  const ctl = new Int32Array(new SharedArrayBuffer(32));
  const w = new Worker(new URL("./programs/grant-scribbler.js", import.meta.url), {
    workerData: { ...init, ctl: ctl.buffer },
  });
  const exited = new Promise<void>((r) => w.once("exit", () => r()));
  return {
    ctl,
    async started(): Promise<void> {
      for (let i = 0; i < 500 && Atomics.load(ctl, 3) === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(Atomics.load(ctl, 3), 1, "the scribbler thread started");
    },
    async stop(): Promise<void> {
      Atomics.store(ctl, 0, 1);
      await exited;
    },
  };
}

function sharedGuest(nPages: number) {
  const memSab = new SharedArrayBuffer(nPages * PAGE);
  const tabSab = createGrantTable(1);
  const actSab = createActiveTable(512);
  const d0 = memoryOf(0, new SharedArrayBuffer(8 * PAGE));
  const ops = new GrantOps(0, d0);
  const mem = memoryOf(1, memSab).mem;
  ops.addDomain(grantingDomain(1, memSab, memOf(tabSab), actSab, mem));
  const tab = memOf(tabSab);
  const act = new Int32Array(actSab);
  const pinned = (): number[] => {
    const out: number[] = [];
    for (let r = 0; r < 512; r++) if ((act[r * 4] & 0x3fffffff) !== 0) out.push(r);
    return out;
  };
  const inUse = (): number[] => {
    const out: number[] = [];
    for (let r = 0; r < 512; r++) if ((tab.u16[r * 4] & (GTF_reading | GTF_writing)) !== 0) out.push(r);
    return out;
  };
  return { memSab, tabSab, tab, mem, d0, ops, pinned, inUse };
}

/**
 * Wraps Atomics.compareExchange so that, on entry `ref`'s word, the scribbler thread's write
 * lands between the hypervisor side's read and its swap, up to `times` times.
 */
function landBetweenReadAndSwap(tab: SharedArrayBuffer, ref: number, ctl: Int32Array, times: number) {
  const realCas = Atomics.compareExchange;
  const state = {
    landed: 0,
    restore: () => {
      Atomics.compareExchange = realCas;
    },
  };
  Atomics.compareExchange = ((ta: Uint32Array, i: number, expected: number, value: number) => {
    if (ta.buffer === tab && ta.BYTES_PER_ELEMENT === 4 && i === ref * 2 && state.landed < times) {
      state.landed++;
      const before = Atomics.load(ctl, 5);
      Atomics.add(ctl, 4, 1);
      Atomics.notify(ctl, 4);
      Atomics.wait(ctl, 5, before, 2000);
    }
    return realCas(ta, i, expected, value);
  }) as typeof Atomics.compareExchange;
  return state;
}

/** A guest whose entry `ref` grants `frame` to Domain-0, with a second thread at it in `mode`. */
async function grantUnderScribbler(
  ref: number,
  frame: number,
  mode: "unstable" | "ondemand",
  onDemand?: "revoke",
) {
  const g = sharedGuest(16);
  g.tab.u32[ref * 2 + 1] = frame;
  Atomics.store(g.tab.u32, ref * 2, GTF_permit_access);
  const sc = scribbler({
    tab: g.tabSab,
    mode,
    onDemand,
    lo: ref,
    hi: ref + 1,
    frames: [frame],
    nPages: 16,
    seed: 1,
  });
  await sc.started();
  return { g, ref, sc };
}

test("an entry a second thread rewrites between every read and swap: GNTST_general_error after five tries", async () => {
  const { g, ref, sc } = await grantUnderScribbler(8, 5, "ondemand");
  // Land the second thread's write in the window between the hypervisor side's read of the
  // word and its compare-and-swap, every time (at most 200 times, so unbounded retries
  // end too, with a mapping instead of the status).
  const cas = landBetweenReadAndSwap(g.tabSab, ref, sc.ctl, 200);
  let h: number;
  let copySt: number;
  let mapTries: number;
  let copyTries: number;
  try {
    const t0 = performance.now();
    h = g.ops.map(1, ref, true);
    mapTries = cas.landed;
    const op = privateMem(GNTTAB_COPY_SIZE);
    gcopyWrite(op, 0, ref, 1, 0, 1, DOMID_SELF, 0, 16, GNTCOPY_source_gref);
    g.ops.copy(op, 0, 1);
    copySt = gcopyStatus(op, 0);
    copyTries = cas.landed - mapTries;
    assert.ok(performance.now() - t0 < 5000);
  } finally {
    cas.restore();
    await sc.stop();
  }
  assert.equal(h, GNTST_general_error, `map tried ${mapTries} times`);
  assert.equal(mapTries, 5, "Xen's five tries");
  assert.equal(copySt, GNTST_general_error);
  assert.equal(copyTries, 5);
  assert.deepEqual(g.pinned(), [], "nothing left pinned");
  assert.deepEqual(g.inUse(), [], "no GTF bit left");
  assert.equal(g.ops.liveMappings, 0);
});

test("a revoke landing between the read of an entry and its swap wins: the map fails and the entry stays revoked", async () => {
  const { g, ref, sc } = await grantUnderScribbler(9, 3, "ondemand", "revoke");
  const cas = landBetweenReadAndSwap(g.tabSab, ref, sc.ctl, 1);
  let h: number;
  try {
    h = g.ops.map(1, ref, true);
  } finally {
    cas.restore();
    await sc.stop();
  }
  assert.equal(cas.landed, 1);
  assert.equal(Atomics.load(sc.ctl, 2), 1, "the guest's revoke succeeded");
  assert.equal(h, GNTST_general_error, "the map saw the revoke");
  assert.equal(g.tab.u16[ref * 4], 0, "revoked, and no GTF bit set on it");
  assert.deepEqual(g.pinned(), []);
});

test("maps and copies through an entry a second thread rewrites nonstop: each returns promptly, nothing leaks", async () => {
  const { g, ref, sc } = await grantUnderScribbler(8, 5, "unstable");
  const op = privateMem(GNTTAB_COPY_SIZE);
  let ok = 0;
  let slowest = 0;
  const rounds0 = Atomics.load(sc.ctl, 1);
  const start = performance.now();
  // At least 300 ms, and until the scribbler has run a round meanwhile (up to 3 s).
  for (;;) {
    const now = performance.now();
    if (now - start > 3000 || (now - start > 300 && Atomics.load(sc.ctl, 1) > rounds0)) break;
    const t0 = performance.now();
    const h = g.ops.map(1, ref, true);
    gcopyWrite(op, 0, ref, 1, 0, 1, DOMID_SELF, 0, 16, GNTCOPY_source_gref);
    g.ops.copy(op, 0, 1);
    slowest = Math.max(slowest, performance.now() - t0);
    if (h >= 0) {
      ok++;
      assert.equal(g.ops.mappedOff(h), 5 * PAGE);
      assert.equal(g.ops.unmap(h), GNTST_okay);
    } else assert.equal(h, GNTST_general_error);
    assert.ok([GNTST_okay, GNTST_general_error].includes(gcopyStatus(op, 0)));
  }
  const rounds = Atomics.load(sc.ctl, 1) - rounds0;
  await sc.stop();
  assert.ok(ok > 0 && rounds > 0, `ok ${ok}, scribbler rounds ${rounds}`);
  assert.ok(slowest < 1000, `slowest op ${slowest.toFixed(1)} ms`);
  assert.deepEqual(g.pinned(), [], "nothing left pinned");
  assert.equal(g.ops.liveMappings, 0);
});

test("a guest revoking and granting in a second thread never revokes an entry while it is mapped", async () => {
  const g = sharedGuest(16);
  const lo = 8;
  const hi = 12;
  const frames = [1, 2, 3, 4];
  for (let r = lo; r < hi; r++) {
    g.tab.u32[r * 2 + 1] = frames[r - lo];
    Atomics.store(g.tab.u16, r * 4, GTF_permit_access);
  }
  const sc = scribbler({ tab: g.tabSab, mode: "revoker", lo, hi, frames, nPages: 16, seed: 7 });
  await sc.started();
  let mapped = 0;
  let refused = 0;
  const until = performance.now() + 3000;
  for (let i = 0; (mapped < 2000 || Atomics.load(sc.ctl, 2) < 2000) && performance.now() < until; i++) {
    const ref = lo + (i & 3);
    const h = g.ops.map(1, ref, (i & 4) === 0);
    if (h < 0) {
      assert.equal(h, GNTST_general_error);
      refused++;
    } else {
      mapped++;
      assert.equal(g.ops.mappedOff(h), frames[ref - lo] * PAGE);
      // Held for a moment while the revoker tries: the entry stays granted and in use.
      for (let k = 0; k < 50; k++) {
        const f = Atomics.load(g.tab.u16, ref * 4);
        assert.equal(f & GTF_type_mask, GTF_permit_access, "revoked while mapped");
        assert.notEqual(f & GTF_reading, 0);
      }
      assert.equal(g.ops.unmap(h), GNTST_okay);
    }
    if ((i & 255) === 0) await new Promise((r) => setImmediate(r));
  }
  await sc.stop();
  const revokes = Atomics.load(sc.ctl, 2);
  assert.ok(
    mapped > 100 && refused > 0 && revokes > 100,
    `mapped ${mapped}, refused ${refused}, revokes ${revokes}`,
  );
  assert.deepEqual(g.pinned(), []);
  assert.deepEqual(g.inUse(), []);
});

/** Byte i of guest page p in the fuzz: tells which page a copy read. */
const pat = (p: number, i: number) => (p * 37 + i * 7 + 1) & 0xff;

type FuzzOp =
  | { k: "in"; ref: number; off: number; len: number }
  | { k: "out"; ref: number; off: number; len: number }
  | { k: "junk"; words: number[] };

test("fuzz: mostly valid grant copies and maps, with a second thread revoking and rewriting entries", async () => {
  // Guest pages 0..31 hold a pattern and back refs 8..39 (frame = ref - 8); pages 32..39 back
  // refs 40..47, the only ones copies write into. The scribbler rewrites all of 8..47.
  const g = sharedGuest(40);
  const LO = 8;
  const HI = 48;
  const frames = Array.from({ length: HI - LO }, (_, i) => i);
  for (let p = 0; p < 32; p++) for (let i = 0; i < PAGE; i++) g.mem.u8[p * PAGE + i] = pat(p, i);
  for (let i = 0; i < PAGE; i++) g.d0.mem.u8[7 * PAGE + i] = pat(99, i);
  const grantAll = (ro: number) => {
    for (let r = LO; r < HI; r++) {
      g.tab.u16[r * 4 + 1] = 0;
      g.tab.u32[r * 2 + 1] = frames[r - LO];
      Atomics.store(g.tab.u16, r * 4, GTF_permit_access | ((ro >>> (r & 31)) & 1 ? GTF_readonly : 0));
    }
  };
  const sc = scribbler({ tab: g.tabSab, mode: "chaos", lo: LO, hi: HI, frames, nPages: 40, seed: 12345 });
  await sc.started();
  const roundsBefore = Atomics.load(sc.ctl, 1);
  const seen = { ok: 0, general: 0, other: 0, mapped: 0 };
  const inOp = fc.record({
    k: fc.constant("in" as const),
    ref: fc.integer({ min: LO, max: 39 }),
    off: fc.nat(4095),
    len: fc.integer({ min: 1, max: 256 }),
  });
  const outOp = fc.record({
    k: fc.constant("out" as const),
    ref: fc.integer({ min: 40, max: HI - 1 }),
    off: fc.nat(4095),
    len: fc.integer({ min: 1, max: 256 }),
  });
  const junk = fc.record({
    k: fc.constant("junk" as const),
    words: fc.array(fc.nat(0xffffffff), { minLength: 10, maxLength: 10 }),
  });
  const anyOp: fc.Arbitrary<FuzzOp> = fc.oneof(
    { weight: 6, arbitrary: inOp },
    { weight: 2, arbitrary: outOp },
    { weight: 1, arbitrary: junk },
  );
  try {
    fc.assert(
      fc.property(
        fc.nat(0xffffffff),
        fc.array(anyOp, { minLength: 1, maxLength: 64 }),
        fc.array(fc.integer({ min: LO, max: HI + 4 }), { maxLength: 8 }),
        (ro, list, mapRefs) => {
          grantAll(ro);
          // Mappings held across the batch, so copies meet entries already pinned.
          const handles: number[] = [];
          for (const [i, ref] of mapRefs.entries()) {
            const h = g.ops.map(1, ref, (i & 1) === 0);
            if (h < 0) continue;
            handles.push(h);
            seen.mapped++;
            assert.ok(ref < HI);
            assert.equal(g.ops.mappedOff(h), frames[ref - LO] * PAGE, "the grant's one valid frame");
          }
          const m = privateMem(list.length * GNTTAB_COPY_SIZE);
          list.forEach((op, i) => {
            const at = i * GNTTAB_COPY_SIZE;
            const dst = (((i >> 4) & 3) << 12) + (i & 15) * 256;
            if (op.k === "in") {
              gcopyWrite(
                m,
                at,
                op.ref,
                1,
                op.off,
                dst >>> 12,
                DOMID_SELF,
                dst & 4095,
                op.len,
                GNTCOPY_source_gref,
              );
            } else if (op.k === "out") {
              gcopyWrite(m, at, 7, 0, op.off, op.ref, 1, op.off, op.len, GNTCOPY_dest_gref);
            } else {
              for (let w = 0; w < 10; w++) m.u32[at / 4 + w] = op.words[w];
              // Junk never writes into the patterned pages through a valid grant.
              const dref = m.u32[at / 4 + 4];
              if (m.u16[(at + 34) >>> 1] & GNTCOPY_dest_gref && dref >= LO && dref < 40)
                m.u32[at / 4 + 4] = 1000;
            }
          });
          const failed = g.ops.copy(m, 0, list.length);
          let nFailed = 0;
          list.forEach((op, i) => {
            const st = gcopyStatus(m, i * GNTTAB_COPY_SIZE);
            if (st !== GNTST_okay) nFailed++;
            if (st === GNTST_okay) seen.ok++;
            else if (st === GNTST_general_error) seen.general++;
            else seen.other++;
            assert.ok(st <= 0 && st >= -13, `status ${st}`);
            if (op.k === "in" && st === GNTST_okay) {
              const dst = (((i >> 4) & 3) << 12) + (i & 15) * 256;
              const len = Math.min(op.len, PAGE - op.off);
              for (let b = 0; b < len; b++)
                if (g.d0.mem.u8[dst + b] !== pat(op.ref - LO, op.off + b))
                  assert.fail(`op ${i}: byte ${b} is not from page ${op.ref - LO}`);
            }
            if (op.k !== "junk" && op.off + op.len > PAGE) assert.equal(st, GNTST_bad_copy_arg);
          });
          assert.equal(failed, nFailed);
          for (const h of handles) assert.equal(g.ops.unmap(h), GNTST_okay);
          assert.equal(g.ops.liveMappings, 0);
          assert.deepEqual(g.pinned(), [], "no entry left pinned");
          assert.deepEqual(g.inUse(), [], "no GTF_reading/GTF_writing left");
        },
      ),
      { numRuns: 300 },
    );
  } finally {
    await sc.stop();
  }
  // The generators and the second thread reached the cases that matter.
  assert.ok(Atomics.load(sc.ctl, 1) > roundsBefore, "the scribbler ran during the fuzz");
  assert.ok(seen.ok > 200, JSON.stringify(seen));
  assert.ok(seen.general > 20, JSON.stringify(seen));
  assert.ok(seen.mapped > 50, JSON.stringify(seen));
});
