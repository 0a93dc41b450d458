/**
 * Node permissions as xenstore has them: a list of entries "<letter><domid>" with the
 * letter n (none), r (read), w (write) or b (both). The first entry names the owner, who
 * always has full access; its letter is what every domain not listed later gets. Later
 * entries grant a listed domain exactly their letter.
 *
 * Privileged callers (dom0) bypass every check. A caller that is the target of a stub
 * domain relation (SET_TARGET) is treated as the owner of the target's nodes.
 */
import { type XsFail, xsFail } from "../path.js";

export type PermLetter = "n" | "r" | "w" | "b";

export interface XsPerm {
  readonly letter: PermLetter;
  readonly domid: number;
}

/** At least one entry; entry 0 is the owner. */
export type XsPerms = readonly XsPerm[];

export const PERM_READ = 1;
export const PERM_WRITE = 2;
/** Only returned for the owner (or a privileged caller): may change perms. */
export const PERM_OWNER = 4;

const LETTER_BITS: Record<PermLetter, number> = {
  n: 0,
  r: PERM_READ,
  w: PERM_WRITE,
  b: PERM_READ | PERM_WRITE,
};

/** What the root and dom0's own nodes carry: owned by dom0, nobody else may look. */
export const DOM0_ONLY: XsPerms = Object.freeze([Object.freeze({ letter: "n", domid: 0 })]);

/** Domain ids are 16 bits on the wire of every Xen interface. */
const DOMID_MAX = 0xffff;

/** One entry, "r5" -> { letter: "r", domid: 5 }; anything else is EINVAL. */
export function parsePerm(s: string): XsPerm | XsFail {
  const m = /^([nrwb])([0-9]{1,5})$/.exec(s);
  if (m === null) return xsFail("EINVAL");
  const domid = Number(m[2]);
  if (domid > DOMID_MAX) return xsFail("EINVAL");
  return { letter: m[1] as PermLetter, domid };
}

/** A SET_PERMS argument list: at least one entry, each well formed. */
export function parsePerms(strings: readonly string[]): XsPerms | XsFail {
  if (strings.length === 0) return xsFail("EINVAL");
  const out: XsPerm[] = [];
  for (const s of strings) {
    const p = parsePerm(s);
    if ("err" in p) return p;
    out.push(p);
  }
  return out;
}

export function formatPerm(p: XsPerm): string {
  return `${p.letter}${p.domid}`;
}

/** GET_PERMS reply strings, in stored order. */
export function formatPerms(perms: XsPerms): string[] {
  return perms.map(formatPerm);
}

export function ownerOf(perms: XsPerms): number {
  return perms[0].domid;
}

/** Who is asking. */
export interface PermCaller {
  readonly domid: number;
  readonly privileged: boolean;
  /** A stub domain acts for this domain (SET_TARGET). */
  readonly target?: number | undefined;
}

/** The caller's PERM_* bits on a node with these perms. */
export function permsFor(perms: XsPerms, who: PermCaller): number {
  const all = PERM_READ | PERM_WRITE | PERM_OWNER;
  if (who.privileged) return all;
  const owner = ownerOf(perms);
  if (owner === who.domid || (who.target !== undefined && owner === who.target)) return all;
  for (let i = 1; i < perms.length; i++) {
    if (perms[i].domid === who.domid) return LETTER_BITS[perms[i].letter];
  }
  return LETTER_BITS[perms[0].letter];
}

export function canRead(perms: XsPerms, who: PermCaller): boolean {
  return (permsFor(perms, who) & PERM_READ) !== 0;
}

export function canWrite(perms: XsPerms, who: PermCaller): boolean {
  return (permsFor(perms, who) & PERM_WRITE) !== 0;
}

/**
 * Perms for a node created below `parent`: the parent's list, except that a node made by
 * an unprivileged domain belongs to that domain (so it is charged to its quota and it
 * may change them later).
 */
export function inheritPerms(parent: XsPerms, creator: PermCaller): XsPerms {
  if (creator.privileged || ownerOf(parent) === creator.domid) return parent;
  return [{ letter: parent[0].letter, domid: creator.domid }, ...parent.slice(1)];
}

/**
 * May `who` replace `old` with `next`? Only the owner (or dom0) may set perms at all
 * (EACCES); only dom0 may hand a node to another owner (EPERM).
 */
export function checkSetPerms(old: XsPerms, next: XsPerms, who: PermCaller): XsFail | undefined {
  if ((permsFor(old, who) & PERM_OWNER) === 0) return xsFail("EACCES");
  if (!who.privileged && ownerOf(next) !== ownerOf(old)) return xsFail("EPERM");
  return undefined;
}

export function samePerms(a: XsPerms, b: XsPerms): boolean {
  return a.length === b.length && a.every((p, i) => p.letter === b[i].letter && p.domid === b[i].domid);
}
