/**
 * xenstore between domains: Domain-0 runs the daemon and serves each guest's ring page;
 * a guest connects through its page as a Xen guest does through start_info's store page.
 *
 * The handshake replaces what the Xen toolstack and start_info do: the guest grants its
 * xenstore page at the reserved ref (GNTTAB_RESERVED_XENSTORE) to Domain-0, allocates an
 * unbound port for Domain-0 and posts `{t:"xs-introduce", port}`. Domain-0 creates the
 * guest's home (as libxl does: Domain-0's, readable by the guest, with the subdirectories
 * the guest may write), maps the page, binds the port, marks the domain introduced
 * (@introduceDomain) and answers `{t:"xs-connected"}` (or `{t:"xs-refused", reason}`). When the guest is destroyed, Domain-0 stops serving it,
 * releases it (@releaseDomain) and removes its home.
 */
import { PvnetError } from "../base/errors.js";
import { RateLog } from "../base/ratelog.js";
import type { Domain, MessageHandler } from "../hv/domain.js";
import { type DomainMemory, PAGE_SIZE } from "../hv/memory.js";
import { MACHINE } from "../hv/worker-proto.js";
import { GNTTAB_RESERVED_XENSTORE } from "../wire/xen/grant.js";
import { XsClient, type XsPerm } from "./client.js";
import type { Xenstored } from "./daemon.js";
import { domainPath, KEY_DOMID } from "./keys.js";
import { xsFail } from "./path.js";
import { XsRingServer } from "./transport/domain-ring.js";
import { loopbackTransport } from "./transport/loopback.js";
import { XsRingTransport } from "./transport/ring-client.js";

export const XS_MSG_INTRODUCE = "xs-introduce";
export const XS_MSG_CONNECTED = "xs-connected";
export const XS_MSG_REFUSED = "xs-refused";

export interface ServeXenstoreOptions {
  /** Messages that are not part of the xenstore handshake go here (Domain has one handler). */
  next?: MessageHandler;
  log?: (line: string) => void;
  /** Per-guest bound on queued reply/event bytes (XsRingServer's maxQueueBytes). */
  maxQueueBytes?: number;
}

export interface XenstoreService {
  /** The toolstack's own privileged client (in-process). */
  readonly toolstack: XsClient;
  /** Guests being served, by domid. */
  readonly guests: ReadonlyMap<number, XsRingServer>;
}

interface Guest {
  server: XsRingServer;
  /** Domain-0's end of the guest's xenstore channel; -1 once closed (at most once). */
  port: number;
  handle: number;
  /** The domain's memory when it was attached: a later domain with its domid has another. */
  mem: DomainMemory;
}

/** Domain-0: serves every guest that introduces itself. Installs Domain-0's message handler. */
export function serveXenstore(
  dom: Domain,
  xenstored: Xenstored,
  opts: ServeXenstoreOptions = {},
): XenstoreService {
  const log = new RateLog(opts.log === undefined ? {} : { sink: opts.log });
  const tool = new XsClient(loopbackTransport(xenstored));
  const guests = new Map<number, Guest>();
  const servers = new Map<number, XsRingServer>();
  const starting = new Set<number>();

  /**
   * Maps the guest's page (grant ref 1), binds its port and starts serving. `byMessage`:
   * the guest asked (pvnet's handshake): create its home, mark it introduced and answer it.
   * Otherwise a privileged client sent XS_INTRODUCE (as `xl` does), which already marked the
   * domain introduced and expects the toolstack to have made the home.
   */
  const attach = async (domid: number, port: unknown, byMessage: boolean): Promise<void> => {
    const refuse = (reason: string): void => {
      log.log(`dom${domid}`, `xenstored: refused guest ${domid}: ${reason}`);
      if (byMessage) dom.post(domid, { t: XS_MSG_REFUSED, reason });
      else xenstored.releaseDomain(domid);
    };
    if (guests.has(domid) || starting.has(domid)) return refuse("already introduced");
    if (!Number.isInteger(port) || (port as number) <= 0) return refuse("port: expected a positive integer");
    // After every await the guest must still be this domain: one destroyed meanwhile took
    // its mappings with it, and a new domain may have been given its domid.
    const gm = dom.foreign(domid);
    if (gm === undefined) return refuse("no such domain");
    const same = (): boolean => dom.foreign(domid) === gm;
    starting.add(domid);
    try {
      if (byMessage) {
        await makeHome(tool, domid);
        if (!same()) return;
      }
      const h = dom.gnt.map(domid, GNTTAB_RESERVED_XENSTORE, false);
      if (h < 0) return refuse(`cannot map the xenstore page (gref 1): status ${h}`);
      let local: number;
      try {
        local = await dom.evtchnBindInterdomain(domid, port as number);
      } catch (e) {
        if (!same()) return; // the handle ended with the domain: it is not ours to unmap
        dom.gnt.unmap(h);
        return refuse(`cannot bind event channel ${String(port)}: ${(e as Error).message}`);
      }
      if (!same()) {
        dom.evtchnClose(local).catch(() => undefined);
        return;
      }
      const server = new XsRingServer(xenstored, {
        m: dom.gnt.mappedMem(h),
        at: dom.gnt.mappedOff(h),
        domid,
        notify: () => dom.evtchn.send(local),
        defer: (fn) => dom.loop.defer(fn),
        log: opts.log,
        maxQueueBytes: opts.maxQueueBytes,
        outstanding: xenstored.quotas.outstanding,
      });
      guests.set(domid, { server, port: local, handle: h, mem: gm });
      servers.set(domid, server);
      dom.evtchn.on(local, () => server.kick());
      if (byMessage) xenstored.introduceDomain(domid);
      dom.post(domid, { t: XS_MSG_CONNECTED });
      server.kick();
    } catch (e) {
      refuse(`toolstack error: ${(e as Error).message}`);
    } finally {
      starting.delete(domid);
    }
  };
  const introduce = (domid: number, port: unknown): Promise<void> => attach(domid, port, true);

  // The port is closed, not only taken off the loop: C xenstored unbinds it in
  // destroy_domain, and a port left bound for each dead guest would exhaust Domain-0's.
  const closePort = (g: Guest): void => {
    if (g.port < 0) return;
    const port = g.port;
    g.port = -1;
    dom.evtchnClose(port).catch(() => undefined); // closed by the machine already: nothing to give back
  };

  const release = (domid: number, why: string, released = false): void => {
    const g = guests.get(domid);
    if (g === undefined) return;
    guests.delete(domid);
    servers.delete(domid);
    g.server.close(why);
    closePort(g);
    // A dead domain's mappings ended with it (GrantOps.releaseDomain); unmap only our own.
    if (dom.foreign(domid) === g.mem) dom.gnt.unmap(g.handle);
    if (!released) xenstored.releaseDomain(domid);
    tool
      .rm(domainPath(domid))
      .catch((e: Error) => log.log("rm", `xenstored: rm of dom${domid}'s home: ${e.message}`));
  };

  dom.onMessage((from, data) => {
    if (from !== MACHINE && from > 0 && (data as { t?: unknown } | null)?.t === XS_MSG_INTRODUCE) {
      void introduce(from, (data as { port?: unknown }).port);
      return;
    }
    opts.next?.(from, data);
  });
  dom.onDomainDestroyed((domid) => release(domid, "domain destroyed"));
  // XS_INTRODUCE / XS_RELEASE from a privileged client set the ring up and take it down, as
  // C xenstored does: the page is the guest's grant ref 1 (so the gfn is not needed), the
  // event channel the guest's unbound port. INTRODUCE is answered at once; the ring starts
  // when the bind completes (a guest may already have queued requests in it).
  xenstored.opts.onIntroduce = (domid, _gfn, evtchn) => {
    if (dom.foreign(domid) === undefined) return xsFail("EINVAL");
    void attach(domid, evtchn, false);
    return undefined;
  };
  xenstored.opts.onRelease = (domid) => release(domid, "released by the toolstack", true);
  dom.onPeerClosed((port) => {
    for (const g of guests.values())
      if (g.port === port) {
        g.server.close("event channel closed by the guest");
        closePort(g);
      }
  });
  return { toolstack: tool, guests: servers };
}

/**
 * Nodes of a guest's home that libxl (libxl__domain_make) creates read-only to the guest,
 * like the home itself, and those the guest may write: it cannot remove or rename itself
 * (`name`, `domid`), but has its control keys, data/, drivers, feature, attr and error/.
 * Device directories below device/ are the guest's, written by the toolstack per device.
 */
const HOME_RO = ["cpu", "memory", "device", "control"] as const;
const HOME_RW = [
  "control/shutdown",
  "control/feature-poweroff",
  "control/feature-reboot",
  "control/feature-suspend",
  "control/sysrq",
  "device/suspend/event-channel",
  "data",
  "drivers",
  "feature",
  "attr",
  "error",
] as const;

/** The guest's /local/domain/<domid>, as libxl makes it: (n0,r<domid>), in one transaction. */
async function makeHome(tool: XsClient, domid: number): Promise<void> {
  const home = domainPath(domid);
  const ro: XsPerm[] = [
    { letter: "n", domid: 0 },
    { letter: "r", domid },
  ];
  const rw: XsPerm[] = [{ letter: "n", domid }];
  await tool.transaction(async (tx) => {
    // Not removed first: a guest that connects to xenstore late (its own program) finds the
    // toolstack's device directories written under it already. A dead domain's home went
    // at its release, so nothing stale of an earlier domain with this id is left.
    await tx.mkdir(home);
    await tx.setPerms(home, ro);
    await tx.write(`${home}/${KEY_DOMID}`, String(domid));
    await tx.setPerms(`${home}/${KEY_DOMID}`, ro);
    for (const n of HOME_RO) {
      await tx.mkdir(`${home}/${n}`);
      await tx.setPerms(`${home}/${n}`, ro);
    }
    for (const n of HOME_RW) {
      await tx.mkdir(`${home}/${n}`);
      await tx.setPerms(`${home}/${n}`, rw);
    }
  });
}

export interface ConnectXenstoreOptions {
  /** Messages that are not part of the handshake go here. */
  next?: MessageHandler;
  /**
   * Xen's way instead of pvnet's handshake: hand the port to a toolstack (as start_info's
   * store_evtchn does), which sends XS_INTRODUCE; the client is returned at once and its
   * requests wait in the ring until Domain-0 serves it.
   */
  announce?: (port: number) => void;
}

/** A guest: connects to Domain-0's xenstored over its ring page; rejects if refused. */
export async function connectXenstore(dom: Domain, opts: ConnectXenstoreOptions = {}): Promise<XsClient> {
  const page = dom.pages.alloc();
  if (page < 0) throw new PvnetError("ENOMEM", `Domain ${dom.domid} has no page for xenstore`);
  const mem = dom.memory.mem;
  const at = page * PAGE_SIZE;
  mem.u8.fill(0, at, at + PAGE_SIZE);
  dom.grants.grantAccessRef(GNTTAB_RESERVED_XENSTORE, 0, page, false);
  const port = await dom.evtchnAllocUnbound(0);
  const t = new XsRingTransport({
    m: mem,
    at,
    notify: () => dom.evtchn.send(port),
    release: () => dom.evtchn.off(port),
  });
  dom.evtchn.on(port, () => t.kick());
  if (opts.announce !== undefined) {
    opts.announce(port);
    return new XsClient(t);
  }
  const answer = new Promise<string | null>((resolve) => {
    dom.onMessage((from, data) => {
      const m = data as { t?: unknown; reason?: unknown } | null;
      if (from === 0 && m?.t === XS_MSG_CONNECTED) resolve(null);
      else if (from === 0 && m?.t === XS_MSG_REFUSED) resolve(String(m.reason));
      else opts.next?.(from, data);
    });
  });
  dom.post(0, { t: XS_MSG_INTRODUCE, port });
  const refused = await answer;
  if (refused !== null) {
    t.close();
    throw new PvnetError("EACCES", `xenstored refused domain ${dom.domid}: ${refused}`);
  }
  return new XsClient(t);
}
