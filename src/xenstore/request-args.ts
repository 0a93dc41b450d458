/**
 * Argument parsing shared by the request handlers, strict as C xenstored: a request takes
 * an exact number of NUL-terminated strings, paths resolve against the caller's home,
 * domids are decimal 16-bit numbers. Anything else is EINVAL.
 */
import { splitXsStrings } from "../wire/xen/xs-wire.js";
import type { Conn, Xenstored } from "./daemon.js";
import { isXsFail, resolvePath, type XsFail, type XsPath, xsFail } from "./path.js";
import type { XsChange } from "./store/ops.js";
import type { NodeAccess } from "./store/tree.js";
import type { XsTransaction } from "./store/txn.js";

export interface RequestContext {
  readonly daemon: Xenstored;
  readonly conn: Conn;
  readonly record: (tx: XsTransaction | undefined, change: XsChange) => void;
}

export type Reply = Uint8Array | XsFail;
export type Handler = (ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array) => Reply;

/** Exactly `n` NUL-terminated strings (C's get_strings(...) == n). */
export function args(payload: Uint8Array, n: number): string[] | XsFail {
  const s = splitXsStrings(payload);
  return Array.isArray(s) && s.length === n ? s : xsFail("EINVAL");
}

/** The single-string argument (C's onearg: the only NUL is the last byte). */
export function onearg(payload: Uint8Array): string | XsFail {
  const a = args(payload, 1);
  return isXsFail(a) ? a : a[0];
}

export function pathArg(ctx: RequestContext, raw: string, allowSpecial = false): XsPath | XsFail {
  const pathLenQuota = ctx.conn.privileged ? undefined : ctx.daemon.quotas.pathLength;
  return resolvePath(raw, ctx.conn.domid, { allowSpecial, pathLenQuota });
}

/** A decimal domid, 0..65535. */
export function domidArg(s: string): number | XsFail {
  if (!/^[0-9]{1,5}$/.test(s)) return xsFail("EINVAL");
  const n = Number(s);
  return n <= 0xffff ? n : xsFail("EINVAL");
}

export function access(ctx: RequestContext, tx: XsTransaction | undefined): NodeAccess {
  return tx ?? ctx.daemon.tree;
}

/** Resolves a one-path request to its absolute node name. */
export function onePath(ctx: RequestContext, payload: Uint8Array): string | XsFail {
  const raw = onearg(payload);
  if (isXsFail(raw)) return raw;
  const p = pathArg(ctx, raw);
  return isXsFail(p) ? p : p.abs;
}
