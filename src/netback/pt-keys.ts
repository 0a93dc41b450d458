/**
 * The frontend keys of a netmap passthrough vif (pt-layout.ts), read strictly: a missing or
 * malformed one refuses the connection with the key named, as fe-keys.ts does for the
 * netif keys.
 */
import { KEY_PT_DIR_REF, KEY_PT_PAGES, KEY_PT_SLOTS, ptLayout, validPtSlots } from "../netmap/pt-layout.js";
import type { XsOps } from "../xenstore/client.js";
import { DevError } from "../xenstore/dev-error.js";
import { readBounded } from "./fe-keys.js";

export interface PtKeys {
  /** Grant ref of the page directory. */
  readonly dirRef: number;
  readonly pages: number;
  readonly slots: number;
}

export async function readPtKeys(xs: XsOps, frontDir: string): Promise<PtKeys> {
  // Bounded as every frontend number is; the slot and page counts are checked exactly below.
  const dirRef = await readBounded(xs, frontDir, KEY_PT_DIR_REF, 0xffffffff);
  const slots = await readBounded(xs, frontDir, KEY_PT_SLOTS, 0xffffffff);
  const pages = await readBounded(xs, frontDir, KEY_PT_PAGES, 0xffffffff);
  if (!validPtSlots(slots))
    throw new DevError(
      "EINVAL",
      `${frontDir}/${KEY_PT_SLOTS} ${slots}: a power of two from 64 to 512 expected`,
    );
  const want = ptLayout(slots).pages;
  if (pages !== want)
    throw new DevError("EINVAL", `${frontDir}/${KEY_PT_PAGES} ${pages}: ${want} expected for ${slots} slots`);
  return { dirRef, pages, slots };
}
