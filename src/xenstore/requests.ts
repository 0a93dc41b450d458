/**
 * One handler per xs_wire request type (4.17), and the checks C xenstored makes before
 * any handler runs: a known type (else ENOSYS), privilege for dom0-only types (EACCES),
 * and the transaction named by tx_id (ENOENT when unknown; types that carry no
 * transaction ignore the field). Handlers parse their NUL-separated arguments strictly
 * (EINVAL) and return the reply payload or an XsFail.
 */
import {
  isXsType417,
  joinXsStrings,
  splitXsPathValue,
  splitXsStrings,
  XENSTORE_PAYLOAD_MAX,
  XS_CONTROL,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_READ,
  XS_RELEASE,
  XS_RESET_WATCHES,
  XS_RESUME,
  XS_RM,
  XS_SET_PERMS,
  XS_SET_TARGET,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_UNWATCH,
  XS_WATCH,
  XS_WRITE,
} from "../wire/xen/xs-wire.js";
import { isXsFail, xsFail } from "./path.js";
import {
  access,
  args,
  type Handler,
  onearg,
  onePath,
  pathArg,
  type Reply,
  type RequestContext,
} from "./request-args.js";
import {
  doControl,
  doGetDomainPath,
  doIntroduce,
  doIsDomainIntroduced,
  doRelease,
  doResume,
  doSetTarget,
} from "./request-domain.js";
import { mkdirOp, readableNode, rmOp, setPermsOp, writeOp } from "./store/ops.js";
import { canRead, checkSetPerms, formatPerms, parsePerms } from "./store/perms.js";
import { XsTransaction } from "./store/txn.js";

export type { RequestContext } from "./request-args.js";

const OK = joinXsStrings(["OK"]);
const PRIV = 1;
/** The request carries no transaction: tx_id is ignored. */
const NOTID = 2;

const HANDLERS: ReadonlyMap<number, readonly [Handler, number]> = new Map<number, readonly [Handler, number]>(
  [
    [XS_CONTROL, [doControl, PRIV | NOTID]],
    [XS_DIRECTORY, [doDirectory, 0]],
    [XS_READ, [doRead, 0]],
    [XS_GET_PERMS, [doGetPerms, 0]],
    [XS_WATCH, [doWatch, NOTID]],
    [XS_UNWATCH, [doUnwatch, NOTID]],
    [XS_TRANSACTION_START, [doTransactionStart, 0]],
    [XS_TRANSACTION_END, [doTransactionEnd, 0]],
    [XS_INTRODUCE, [doIntroduce, PRIV | NOTID]],
    [XS_RELEASE, [doRelease, PRIV | NOTID]],
    [XS_GET_DOMAIN_PATH, [doGetDomainPath, NOTID]],
    [XS_WRITE, [doWrite, 0]],
    [XS_MKDIR, [doMkdir, 0]],
    [XS_RM, [doRm, 0]],
    [XS_SET_PERMS, [doSetPerms, 0]],
    [XS_IS_DOMAIN_INTRODUCED, [doIsDomainIntroduced, PRIV | NOTID]],
    [XS_RESUME, [doResume, PRIV | NOTID]],
    [XS_SET_TARGET, [doSetTarget, PRIV | NOTID]],
    [XS_RESET_WATCHES, [doResetWatches, NOTID]],
    [XS_DIRECTORY_PART, [doDirectoryPart, 0]],
  ],
);

/** Runs one request; the reply payload or the error to send. */
export function dispatch(ctx: RequestContext, type: number, txId: number, payload: Uint8Array): Reply {
  const entry = isXsType417(type) ? HANDLERS.get(type) : undefined;
  if (entry === undefined) return xsFail("ENOSYS");
  const [handler, flags] = entry;
  if ((flags & PRIV) !== 0 && !ctx.conn.privileged) return xsFail("EACCES");
  let tx: XsTransaction | undefined;
  if ((flags & NOTID) === 0 && txId !== 0) {
    tx = ctx.conn.txns.get(txId);
    if (tx === undefined) return xsFail("ENOENT");
  }
  return handler(ctx, tx, payload);
}

// ---- the store ----

function doRead(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const path = onePath(ctx, payload);
  if (isXsFail(path)) return path;
  const node = readableNode(access(ctx, tx), ctx.conn, path);
  return isXsFail(node) ? node : node.value.slice();
}

function doDirectory(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const path = onePath(ctx, payload);
  if (isXsFail(path)) return path;
  const node = readableNode(access(ctx, tx), ctx.conn, path);
  return isXsFail(node) ? node : joinXsStrings(node.children);
}

/**
 * DIRECTORY_PART path offset: the node's generation, then the child names starting at
 * byte `offset` of the whole list ("a\0b\0…"), as many whole names as fit; the last
 * chunk ends with an extra empty string. A changed generation tells the client to restart.
 */
function doDirectoryPart(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const a = args(payload, 2);
  if (isXsFail(a)) return a;
  const p = pathArg(ctx, a[0]);
  if (isXsFail(p)) return p;
  if (!/^[0-9]{1,10}$/.test(a[1])) return xsFail("EINVAL");
  const offset = Number(a[1]);
  const node = readableNode(access(ctx, tx), ctx.conn, p.abs);
  if (isXsFail(node)) return node;
  const out = [String(node.gen)];
  let room = XENSTORE_PAYLOAD_MAX - out[0].length - 2;
  let at = 0;
  let i = 0;
  for (; i < node.children.length && at < offset; i++) at += node.children[i].length + 1;
  if (at !== offset) return xsFail("EINVAL");
  for (; i < node.children.length; i++) {
    const len = node.children[i].length + 1;
    if (len > room) break;
    out.push(node.children[i]);
    room -= len;
  }
  if (i === node.children.length) out.push("");
  return joinXsStrings(out);
}

function doGetPerms(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const raw = onearg(payload);
  if (isXsFail(raw)) return raw;
  const p = pathArg(ctx, raw, true);
  if (isXsFail(p)) return p;
  if (p.special) {
    const perms = ctx.daemon.specialPerms.get(p.abs);
    if (perms === undefined) return xsFail("ENOENT");
    return canRead(perms, ctx.conn) ? joinXsStrings(formatPerms(perms)) : xsFail("EACCES");
  }
  const node = readableNode(access(ctx, tx), ctx.conn, p.abs);
  return isXsFail(node) ? node : joinXsStrings(formatPerms(node.perms));
}

function doWrite(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const pv = splitXsPathValue(payload);
  if ("error" in pv) return xsFail("EINVAL");
  const p = pathArg(ctx, pv.path);
  if (isXsFail(p)) return p;
  const change = writeOp(access(ctx, tx), ctx.daemon.callerOf(ctx.conn), p.abs, pv.value.slice());
  if (isXsFail(change)) return change;
  ctx.record(tx, change);
  return OK;
}

function doMkdir(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const path = onePath(ctx, payload);
  if (isXsFail(path)) return path;
  const change = mkdirOp(access(ctx, tx), ctx.daemon.callerOf(ctx.conn), path);
  if (isXsFail(change)) return change;
  if (change !== undefined) ctx.record(tx, change);
  return OK;
}

function doRm(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const path = onePath(ctx, payload);
  if (isXsFail(path)) return path;
  const change = rmOp(access(ctx, tx), ctx.daemon.callerOf(ctx.conn), path);
  if (isXsFail(change)) return change;
  if (change !== undefined) ctx.record(tx, change);
  return OK;
}

function doSetPerms(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const s = splitXsStrings(payload);
  if (!Array.isArray(s) || s.length < 2) return xsFail("EINVAL");
  const p = pathArg(ctx, s[0], true);
  if (isXsFail(p)) return p;
  const perms = parsePerms(s.slice(1));
  if (isXsFail(perms)) return perms;
  const who = ctx.daemon.callerOf(ctx.conn);
  if (!p.special) {
    const change = setPermsOp(access(ctx, tx), who, p.abs, perms);
    if (isXsFail(change)) return change;
    ctx.record(tx, change);
    return OK;
  }
  const old = ctx.daemon.specialPerms.get(p.abs);
  if (old === undefined) return xsFail("ENOENT");
  if (!who.privileged && perms.length > who.quotas.permsPerNode) return xsFail("ENOSPC");
  const refused = checkSetPerms(old, perms, who);
  if (refused !== undefined) return refused;
  ctx.daemon.specialPerms.set(p.abs, perms);
  return OK;
}

// ---- watches ----

function doWatch(ctx: RequestContext, _tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  // 4.17 knows no watch depth: a third argument is invalid.
  const a = args(payload, 2);
  if (isXsFail(a)) return a;
  const p = pathArg(ctx, a[0], true);
  if (isXsFail(p)) return p;
  const { conn, daemon } = ctx;
  const w = { connId: conn.id, wpath: a[0], abs: p.abs, token: a[1], relative: p.relative };
  if (daemon.watches.has(conn.id, p.abs, a[1])) return xsFail("EEXIST");
  if (!conn.privileged && daemon.watches.count(conn.id) >= daemon.quotas.watches) return xsFail("E2BIG");
  const refused = daemon.watches.add(w);
  if (refused !== undefined) return refused;
  daemon.queueEvent({ connId: conn.id, epath: a[0], token: a[1] });
  return OK;
}

function doUnwatch(ctx: RequestContext, _tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const a = args(payload, 2);
  if (isXsFail(a)) return a;
  const p = pathArg(ctx, a[0], true);
  if (isXsFail(p)) return p;
  const refused = ctx.daemon.watches.remove(ctx.conn.id, p.abs, a[1]);
  return refused ?? OK;
}

function doResetWatches(ctx: RequestContext, _tx: XsTransaction | undefined, _payload: Uint8Array): Reply {
  // As 4.17: every watch and every open transaction of the connection goes.
  ctx.daemon.watches.removeAll(ctx.conn.id);
  ctx.conn.txns.clear();
  return OK;
}

// ---- transactions ----

function doTransactionStart(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  if (tx !== undefined) return xsFail("EBUSY");
  const a = onearg(payload);
  if (isXsFail(a)) return a;
  const { conn, daemon } = ctx;
  if (!conn.privileged && conn.txns.size >= daemon.quotas.transactions) return xsFail("ENOSPC");
  const id = conn.allocTxId();
  const limit = conn.privileged ? Number.POSITIVE_INFINITY : daemon.quotas.nodesPerTransaction;
  conn.txns.set(id, new XsTransaction(id, daemon.tree, limit));
  return joinXsStrings([String(id)]);
}

function doTransactionEnd(ctx: RequestContext, tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const a = onearg(payload);
  if (isXsFail(a)) return a;
  if (a !== "T" && a !== "F") return xsFail("EINVAL");
  if (tx === undefined) return xsFail("ENOENT");
  ctx.conn.txns.delete(tx.id);
  if (a === "F") return OK;
  if (!tx.commit()) return xsFail("EAGAIN");
  for (const change of tx.changes) ctx.record(undefined, change);
  return OK;
}
