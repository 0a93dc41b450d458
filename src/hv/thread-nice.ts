/**
 * A domain's scheduling weight, as Xen's credit scheduler gives each domain one: here the
 * host kernel schedules every domain thread alike, so with a hundred guests Domain-0 (which
 * does every guest's switching) would get a hundredth of the cores. Linux applies a nice
 * value to one thread (setpriority with its tid); raising it needs no privilege.
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

/** Sets the calling thread's nice value; false where the system cannot (not Linux, no /proc). */
export function niceThisThread(nice: number): boolean {
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>": the tid is this thread's own.
    const link = readlinkSync("/proc/thread-self");
    const tid = Number(link.slice(link.lastIndexOf("/") + 1));
    if (!Number.isSafeInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
