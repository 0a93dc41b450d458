/**
 * Handlers for the domain-management requests (INTRODUCE, RELEASE, GET_DOMAIN_PATH,
 * IS_DOMAIN_INTRODUCED, RESUME, SET_TARGET) and CONTROL. All but GET_DOMAIN_PATH are
 * dom0-only; the dispatcher has checked that before they run.
 */
import { joinXsStrings, splitXsStrings } from "../wire/xen/xs-wire.js";
import type { Conn } from "./daemon.js";
import { domainPath } from "./keys.js";
import { isXsFail, type XsFail, xsFail } from "./path.js";
import { args, domidArg, onearg, type Reply, type RequestContext } from "./request-args.js";
import type { XsTransaction } from "./store/txn.js";

const OK = joinXsStrings(["OK"]);

/** A request whose one argument is a domid. */
function oneDomid(payload: Uint8Array): number | XsFail {
  const a = onearg(payload);
  return isXsFail(a) ? a : domidArg(a);
}

export function doGetDomainPath(
  _ctx: RequestContext,
  _tx: XsTransaction | undefined,
  payload: Uint8Array,
): Reply {
  const domid = oneDomid(payload);
  return isXsFail(domid) ? domid : joinXsStrings([domainPath(domid)]);
}

export function doIntroduce(ctx: RequestContext, _tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const a = splitXsStrings(payload);
  if (!Array.isArray(a) || a.length < 3) return xsFail("EINVAL");
  const domid = domidArg(a[0]);
  if (isXsFail(domid)) return domid;
  if (domid === 0 || !/^[0-9]{1,20}$/.test(a[1]) || !/^[0-9]{1,10}$/.test(a[2])) return xsFail("EINVAL");
  const evtchn = Number(a[2]);
  if (evtchn === 0 || evtchn > 0xffffffff) return xsFail("EINVAL");
  const { daemon } = ctx;
  if (!daemon.introduced.has(domid)) {
    const refused = daemon.opts.onIntroduce?.(domid, Number(a[1]), evtchn);
    if (refused !== undefined) return refused;
  }
  daemon.introduceDomain(domid);
  return OK;
}

function introducedArg(ctx: RequestContext, payload: Uint8Array): number | XsFail {
  const domid = oneDomid(payload);
  if (isXsFail(domid)) return domid;
  return ctx.daemon.introduced.has(domid) ? domid : xsFail("ENOENT");
}

export function doRelease(ctx: RequestContext, _tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const domid = introducedArg(ctx, payload);
  if (isXsFail(domid)) return domid;
  if (domid === 0) return xsFail("EINVAL");
  ctx.daemon.releaseDomain(domid);
  return OK;
}

export function doIsDomainIntroduced(
  ctx: RequestContext,
  _tx: XsTransaction | undefined,
  payload: Uint8Array,
): Reply {
  const domid = oneDomid(payload);
  if (isXsFail(domid)) return domid;
  return joinXsStrings([ctx.daemon.introduced.has(domid) ? "T" : "F"]);
}

export function doResume(ctx: RequestContext, _tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const domid = introducedArg(ctx, payload);
  return isXsFail(domid) ? domid : OK;
}

export function doSetTarget(ctx: RequestContext, _tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const a = args(payload, 2);
  if (isXsFail(a)) return a;
  const domid = domidArg(a[0]);
  const target = domidArg(a[1]);
  if (isXsFail(domid)) return domid;
  if (isXsFail(target)) return target;
  const { daemon } = ctx;
  if (!daemon.introduced.has(domid) || !daemon.introduced.has(target)) return xsFail("ENOENT");
  daemon.targets.set(domid, target);
  for (const c of daemon.connections()) {
    if (c.domid === domid) (c as Conn).target = target;
  }
  return OK;
}

// ---- control ----

/** A few harmless commands of xenstore-control; anything else is EINVAL. */
export function doControl(ctx: RequestContext, _tx: XsTransaction | undefined, payload: Uint8Array): Reply {
  const a = splitXsStrings(payload);
  if (!Array.isArray(a) || a.length === 0) return xsFail("EINVAL");
  switch (a[0]) {
    case "print":
      ctx.daemon.log(`xenstored: control print: ${a.slice(1).join(" ")}`);
      return OK;
    case "help":
      return joinXsStrings(["Valid commands:\nhelp\nprint <string>\n"]);
    default:
      return xsFail("EINVAL");
  }
}
