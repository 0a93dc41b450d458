/**
 * The frontend keys of a netmap passthrough vif (pt-layout.ts), read strictly: a missing or
 * malformed one refuses the connection with the key named, as fe-keys.ts does for the
 * netif keys. How many directory refs there are follows from the page count (itself
 * checked against the slot count), never from anything else the guest wrote.
 */
import {
  KEY_PT_PAGES,
  KEY_PT_SLOTS,
  PT_MAX_SLOTS,
  PT_MIN_SLOTS,
  ptDirKey,
  ptDirPages,
  ptLayout,
  validPtSlots,
} from "../netmap/pt-layout.js";
import type { XsOps } from "../xenstore/client.js";
import { DevError } from "../xenstore/dev-error.js";
import { readBounded } from "./fe-keys.js";

export interface PtKeys {
  /** Grant refs of the page directory's pages, in order (ptDirPages(pages) of them, distinct). */
  readonly dirRefs: readonly number[];
  readonly pages: number;
  readonly slots: number;
}

export async function readPtKeys(xs: XsOps, frontDir: string): Promise<PtKeys> {
  // Bounded as every frontend number is; the slot and page counts are checked exactly below.
  const slots = await readBounded(xs, frontDir, KEY_PT_SLOTS, 0xffffffff);
  const pages = await readBounded(xs, frontDir, KEY_PT_PAGES, 0xffffffff);
  if (!validPtSlots(slots))
    throw new DevError(
      "EINVAL",
      `${frontDir}/${KEY_PT_SLOTS} ${slots}: a power of two from ${PT_MIN_SLOTS} to ${PT_MAX_SLOTS} expected`,
    );
  const want = ptLayout(slots).pages;
  if (pages !== want)
    throw new DevError("EINVAL", `${frontDir}/${KEY_PT_PAGES} ${pages}: ${want} expected for ${slots} slots`);
  const dirRefs: number[] = [];
  for (let i = 0; i < ptDirPages(pages); i++) {
    const key = ptDirKey(i);
    const ref = await readBounded(xs, frontDir, key, 0xffffffff);
    // Two directory pages that are one page would name the same area pages twice.
    if (dirRefs.includes(ref))
      throw new DevError(
        "EINVAL",
        `${frontDir}/${key} ${ref}: the same grant as ${ptDirKey(dirRefs.indexOf(ref))}`,
      );
    dirRefs.push(ref);
  }
  return { dirRefs, pages, slots };
}
