/**
 * A hostile granter's second thread for grant.test.ts: it rewrites v1 grant entries while
 * the test's thread maps and copies through them. It never sets GTF_reading/GTF_writing
 * (those are the hypervisor side's), so any such bit left at the end is the hypervisor
 * side's leak. Control words (Int32 in `ctl`): [0] stop, [1] rounds done, [2] polite
 * revokes that succeeded, [3] running.
 *
 * Modes:
 * - `unstable`: rewrites the flags|domid word of `lo` between two valid read grants to
 *   domain 0 as fast as it can, so every compare-and-swap on it races.
 * - `revoker`: revokes `lo..hi` as a guest does (a swap that fails while in use) and grants
 *   them again, in a loop.
 * - `chaos`: random polite revokes and grants, blind rewrites of flags, domid and frame
 *   (garbage frames included), over `lo..hi`.
 * - `ondemand`: each time the test bumps ctl[4], flips the flags|domid word of `lo` between
 *   two valid read grants once, then bumps ctl[5] and notifies: the test uses it to land a
 *   write exactly between the hypervisor side's read of the word and its swap (or, with
 *   `onDemand: "revoke"`, revokes `lo` as a guest does).
 */
import { workerData } from "node:worker_threads";

const GTF_permit_access = 1;
const GTF_accept_transfer = 2;
const GTF_readonly = 4;
const GTF_inuse = 8 | 16;

/** What the test sends; `ctl` is added by the test's launcher. */
export interface Init {
  tab: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  mode: "unstable" | "revoker" | "chaos" | "ondemand";
  lo: number;
  hi: number;
  /** The one valid frame of each ref (index ref - lo). */
  frames: number[];
  nPages: number;
  seed: number;
  /** `ondemand`: flip the word (default) or revoke the entry as a guest does. */
  onDemand?: "flip" | "revoke";
}

const init = workerData as Init;
const u16 = new Uint16Array(init.tab);
const u32 = new Uint32Array(init.tab);
const ctl = new Int32Array(init.ctl);
let s = init.seed >>> 0 || 1;
const rnd = (): number => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return s >>> 0;
};

function politeRevoke(ref: number): void {
  const i = ref * 4;
  const f = Atomics.load(u16, i);
  if ((f & GTF_inuse) !== 0) return;
  if (Atomics.compareExchange(u16, i, f, 0) === f && (f & 3) !== 0) Atomics.add(ctl, 2, 1);
}

function politeGrant(ref: number, readonly: boolean): void {
  const i = ref * 4;
  if ((Atomics.load(u16, i) & 3) !== 0) return;
  u16[i + 1] = 0;
  u32[ref * 2 + 1] = init.frames[ref - init.lo];
  Atomics.store(u16, i, GTF_permit_access | (readonly ? GTF_readonly : 0));
}

Atomics.store(ctl, 3, 1);
const span = init.hi - init.lo;
let asked = 0;
while (Atomics.load(ctl, 0) === 0) {
  if (init.mode === "ondemand") {
    Atomics.wait(ctl, 4, asked, 50);
    const now = Atomics.load(ctl, 4);
    if (now === asked) continue;
    asked = now;
    const wi = init.lo * 2;
    const w = Atomics.load(u32, wi);
    if (init.onDemand === "revoke") politeRevoke(init.lo);
    else
      Atomics.store(u32, wi, w === GTF_permit_access ? GTF_permit_access | GTF_readonly : GTF_permit_access);
    Atomics.add(ctl, 5, 1);
    Atomics.notify(ctl, 5);
  } else if (init.mode === "unstable") {
    const wi = init.lo * 2;
    for (let k = 0; k < 1024; k++) {
      Atomics.store(u32, wi, GTF_permit_access);
      Atomics.store(u32, wi, GTF_permit_access | GTF_readonly);
    }
  } else if (init.mode === "revoker") {
    for (let k = 0; k < 256; k++) {
      const ref = init.lo + (rnd() % span);
      politeRevoke(ref);
      politeGrant(ref, (rnd() & 1) === 0);
    }
  } else {
    for (let k = 0; k < 256; k++) {
      const r = rnd();
      const ref = init.lo + ((r >>> 8) % span);
      const i = ref * 4;
      switch (r & 7) {
        case 0:
          politeRevoke(ref);
          break;
        case 1:
          politeGrant(ref, (r & 0x10000) !== 0);
          break;
        case 2: // the grantee changes under whatever is pinned
          u16[i + 1] = (r & 0x20000) !== 0 ? 0 : 7;
          break;
        case 3: // blind flags write: drops the hypervisor's in-use bits too
          Atomics.store(u16, i, GTF_permit_access | ((r & 0x40000) !== 0 ? GTF_readonly : 0));
          break;
        case 4:
          u32[ref * 2 + 1] = init.nPages + (r >>> 20);
          break;
        case 5:
          u32[ref * 2 + 1] = init.frames[ref - init.lo];
          break;
        case 6:
          Atomics.store(u16, i, GTF_accept_transfer);
          break;
        default: // a burst on the flags|domid word
          for (let b = 0; b < 16; b++) Atomics.store(u32, ref * 2, GTF_permit_access | ((b & 1) << 2));
      }
    }
  }
  Atomics.add(ctl, 1, 1);
}
