/**
 * Watches. A watch (path, token) belongs to one connection. It fires once when set up
 * (event path = the path as given), then for every change at or below its path: the
 * event names the changed node. When a node is removed with its subtree, watches below
 * it fire too and report their own path. A watch set with a relative path hears relative
 * names. Special watches (@introduceDomain, @releaseDomain) fire only for their event.
 *
 * Events are filtered by permission (XSA-115): a watcher hears of a node only if it may
 * read it (for a perms change, with the old or the new perms). This module decides who
 * hears what; the daemon delivers.
 */
import { isAtOrBelow, relativeTo, type XsFail, xsFail } from "../path.js";
import type { XsChange } from "./ops.js";
import { canRead, type PermCaller, type XsPerms } from "./perms.js";

export interface XsWatch {
  readonly connId: number;
  /** As the client sent it (echoed in the first event and for removals of a parent). */
  readonly wpath: string;
  /** Absolute name, or the special name. */
  readonly abs: string;
  readonly token: string;
  readonly relative: boolean;
}

/** Who owns the watches (for permission checks and relative names). */
export interface WatchOwner extends PermCaller {
  readonly id: number;
}

/** One event to deliver. */
export interface XsWatchEvent {
  readonly connId: number;
  readonly epath: string;
  readonly token: string;
}

export class XsWatchTable {
  /** Per connection, keyed by "abs\0token" (the identity C xenstored checks for EEXIST). */
  readonly #byConn = new Map<number, Map<string, XsWatch>>();

  count(connId: number): number {
    return this.#byConn.get(connId)?.size ?? 0;
  }

  get total(): number {
    let n = 0;
    for (const m of this.#byConn.values()) n += m.size;
    return n;
  }

  has(connId: number, abs: string, token: string): boolean {
    return this.#byConn.get(connId)?.has(`${abs}\0${token}`) ?? false;
  }

  /** Registers a watch; EEXIST for the same path and token on this connection. */
  add(w: XsWatch): XsFail | undefined {
    let m = this.#byConn.get(w.connId);
    if (m === undefined) {
      m = new Map();
      this.#byConn.set(w.connId, m);
    }
    const key = `${w.abs}\0${w.token}`;
    if (m.has(key)) return xsFail("EEXIST");
    m.set(key, w);
    return undefined;
  }

  /** Drops one watch; ENOENT when there is none. */
  remove(connId: number, abs: string, token: string): XsFail | undefined {
    const m = this.#byConn.get(connId);
    if (m === undefined || !m.delete(`${abs}\0${token}`)) return xsFail("ENOENT");
    return undefined;
  }

  removeAll(connId: number): void {
    this.#byConn.delete(connId);
  }

  /** The events a node change produces, in watch registration order per connection. */
  eventsFor(change: XsChange, owners: ReadonlyMap<number, WatchOwner>): XsWatchEvent[] {
    const out: XsWatchEvent[] = [];
    for (const [connId, m] of this.#byConn) {
      const owner = owners.get(connId);
      if (owner === undefined || !mayHear(owner, change.perms, change.oldPerms)) continue;
      for (const w of m.values()) {
        if (w.abs.startsWith("@")) continue;
        if (isAtOrBelow(change.path, w.abs)) {
          const epath = w.relative ? relativeTo(change.path, owner.domid) : change.path;
          out.push({ connId, epath, token: w.token });
        } else if (change.removed && isAtOrBelow(w.abs, change.path)) {
          out.push({ connId, epath: w.wpath, token: w.token });
        }
      }
    }
    return out;
  }

  /** The events for a special name, for watchers allowed by the special node's perms. */
  specialEventsFor(name: string, perms: XsPerms, owners: ReadonlyMap<number, WatchOwner>): XsWatchEvent[] {
    const out: XsWatchEvent[] = [];
    for (const [connId, m] of this.#byConn) {
      const owner = owners.get(connId);
      if (owner === undefined || !canRead(perms, owner)) continue;
      for (const w of m.values()) if (w.abs === name) out.push({ connId, epath: w.wpath, token: w.token });
    }
    return out;
  }
}

function mayHear(owner: WatchOwner, perms: XsPerms, oldPerms: XsPerms | undefined): boolean {
  return canRead(perms, owner) || (oldPerms !== undefined && canRead(oldPerms, owner));
}
