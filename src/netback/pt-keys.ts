/**
 * The frontend keys of a netmap passthrough vif (pt-layout.ts), read strictly: a missing or
 * malformed one refuses the connection with the key named, as fe-keys.ts does for the
 * netif keys.
 */
import { KEY_PT_DIR_REF, KEY_PT_PAGES, KEY_PT_SLOTS, ptLayout, validPtSlots } from "../netmap/pt-layout.js";
import type { XsOps } from "../xenstore/client.js";
import { DevError } from "../xenstore/dev-error.js";
import { readOrUndefined } from "../xenstore/xenbus.js";

export interface PtKeys {
  /** Grant ref of the page directory. */
  readonly dirRef: number;
  readonly pages: number;
  readonly slots: number;
}

export async function readPtKeys(xs: XsOps, frontDir: string): Promise<PtKeys> {
  const num = async (key: string): Promise<number> => {
    const v = await readOrUndefined(xs, `${frontDir}/${key}`);
    if (v === undefined) throw new DevError("ENOENT", `reading ${frontDir}/${key}`);
    if (!/^\d{1,10}$/.test(v)) throw new DevError("EINVAL", `${frontDir}/${key} "${v}" is not a number`);
    return Number(v);
  };
  const dirRef = await num(KEY_PT_DIR_REF);
  const slots = await num(KEY_PT_SLOTS);
  const pages = await num(KEY_PT_PAGES);
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
