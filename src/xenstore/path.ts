/**
 * xenstore path names: validation and resolution of what a client sends.
 *
 * A path is absolute ("/local/domain/1/device") or relative to the caller's home
 * directory /local/domain/<domid> ("device" means "/local/domain/<domid>/device"). C
 * xenstored accepts only the characters A-Z a-z 0-9 - / _ @, no "//", no trailing "/"
 * (except the root itself), and nothing empty. Names starting with "@" are the special
 * watch names and are allowed only by the operations that take them (WATCH, UNWATCH,
 * GET_PERMS, SET_PERMS). Every rejection is EINVAL, as in C xenstored.
 *
 * Lengths: an absolute path may be XENSTORE_ABS_PATH_MAX bytes long. For unprivileged
 * callers the part below /local/domain/<n>/ is also held to the path-length quota
 * (XENSTORE_REL_PATH_MAX by default), so a guest cannot build names dom0 tools choke on.
 */
import { XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX } from "../wire/xen/xs-wire.js";
import { domainPath } from "./keys.js";

/** The error names of xs_wire.h, the only ones a reply may carry. */
export type XsErrName =
  | "EINVAL"
  | "EACCES"
  | "EEXIST"
  | "EISDIR"
  | "ENOENT"
  | "ENOMEM"
  | "ENOSPC"
  | "EIO"
  | "ENOTEMPTY"
  | "ENOSYS"
  | "EROFS"
  | "EBUSY"
  | "EAGAIN"
  | "EISCONN"
  | "E2BIG"
  | "EPERM";

/** A refused client request: errors are data, never exceptions. */
export interface XsFail {
  readonly err: XsErrName;
}

export function xsFail(err: XsErrName): XsFail {
  return { err };
}

export function isXsFail(v: unknown): v is XsFail {
  return typeof v === "object" && v !== null && typeof (v as XsFail).err === "string";
}

/** A client path after resolution. */
export interface XsPath {
  /** The absolute name used in the store (or the special name, "@…"). */
  readonly abs: string;
  /** True when the client sent a relative path (its watch events are then relative too). */
  readonly relative: boolean;
  /** True for "@introduceDomain"-style names. */
  readonly special: boolean;
}

export interface ResolveOptions {
  /** Accept special watch names ("@…"). */
  readonly allowSpecial?: boolean;
  /** Apply the relative-length quota (unprivileged callers). */
  readonly pathLenQuota?: number;
}

const VALID = /^[A-Za-z0-9\-/_@]*$/;

/** Only these characters may appear (C xenstored's list). */
export function hasValidChars(s: string): boolean {
  return VALID.test(s);
}

/**
 * Resolves a path the client sent. `home` is the caller's domid: relative names live
 * below /local/domain/<home>.
 */
export function resolvePath(raw: string, home: number, opts: ResolveOptions = {}): XsPath | XsFail {
  if (raw.length === 0) return xsFail("EINVAL");
  if (raw.startsWith("@")) {
    if (opts.allowSpecial !== true || !hasValidChars(raw) || raw.length > XENSTORE_ABS_PATH_MAX) {
      return xsFail("EINVAL");
    }
    return { abs: raw, relative: false, special: true };
  }
  const relative = !raw.startsWith("/");
  const abs = relative ? `${domainPath(home)}/${raw}` : raw;
  return checkAbsPath(abs, opts.pathLenQuota) ? { abs, relative, special: false } : xsFail("EINVAL");
}

/** True when `abs` is a well-formed absolute node name within the limits. */
export function checkAbsPath(abs: string, pathLenQuota = XENSTORE_ABS_PATH_MAX): boolean {
  if (!abs.startsWith("/") || abs.length > XENSTORE_ABS_PATH_MAX) return false;
  if (abs.length > 1 && abs.endsWith("/")) return false;
  if (abs.includes("//") || !hasValidChars(abs)) return false;
  return abs.length - localPrefixLen(abs) <= pathLenQuota;
}

/** Length of a leading "/local/domain/<n>/" (the part a guest's quota does not count). */
function localPrefixLen(abs: string): number {
  const m = /^\/local\/domain\/[0-9]{1,5}\//.exec(abs);
  return m === null ? 0 : m[0].length;
}

/** The default path-length quota (relative part). */
export const DEFAULT_PATH_LEN_QUOTA = XENSTORE_REL_PATH_MAX;

/** "/a/b" -> "/a"; "/a" -> "/"; "/" -> undefined. */
export function parentOf(abs: string): string | undefined {
  if (abs === "/") return undefined;
  const i = abs.lastIndexOf("/");
  return i <= 0 ? "/" : abs.slice(0, i);
}

/** "/a/b" -> "b". */
export function baseName(abs: string): string {
  return abs.slice(abs.lastIndexOf("/") + 1);
}

/** "/a" + "b" -> "/a/b"; "/" + "b" -> "/b". */
export function childOf(abs: string, name: string): string {
  return abs === "/" ? `/${name}` : `${abs}/${name}`;
}

/** True when `path` is `ancestor` or lies below it. */
export function isAtOrBelow(path: string, ancestor: string): boolean {
  if (ancestor === "/") return path.startsWith("/");
  return path === ancestor || (path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 0x2f);
}

/**
 * The name to report to a client that used a relative path: the absolute name with its
 * home prefix cut off (names outside its home stay absolute).
 */
export function relativeTo(abs: string, home: number): string {
  const prefix = `${domainPath(home)}/`;
  return abs.startsWith(prefix) ? abs.slice(prefix.length) : abs;
}
