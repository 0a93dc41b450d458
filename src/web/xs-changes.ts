/**
 * xenstored's changes as they take effect, for the web view's handshake replay. In
 * Domain-0 the daemon's onChange hook reads the node it just changed (exact value and
 * perms, and the domain whose request did it) and the changes of one turn of Domain-0's
 * event loop go to the host as one report; a watch from outside could only read each node
 * after the fact, when a fast handshake has often moved it on. Only `pvnet up --web` turns
 * this on (Dom0Args.xsChanges), so a host without the page pays nothing.
 */
import type { XsChange } from "../xenstore/store/ops.js";
import { formatPerm } from "../xenstore/store/perms.js";
import type { XsTree } from "../xenstore/store/tree.js";

/** The report's tag. */
export const XS_CHANGES_REPORT = "xs-changes";
/** Changes one report carries at most; more in one turn are counted as dropped. */
export const XS_CHANGES_BATCH_MAX = 1024;
const VALUE_MAX = 256;

/** One change: the node after it (value as UTF-8 text, perms as xenstore-ls prints them). */
export interface XsChangeEntry {
  /** Wall-clock milliseconds (performance.timeOrigin + now) in Domain-0. */
  at: number;
  /** The domain whose request made the change. */
  domid: number;
  path: string;
  /** null: removed. */
  value: string | null;
  perms: string[];
}

export interface XsChangesReport {
  t: typeof XS_CHANGES_REPORT;
  entries: XsChangeEntry[];
  /** Changes left out since the last report (a turn past XS_CHANGES_BATCH_MAX). */
  dropped: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Domain-0's side: `onChange` for XenstoredOptions; `send` is the domain's report. */
export class XsChangeFeed {
  readonly #send: (r: XsChangesReport) => void;
  #tree: XsTree | null = null;
  #batch: XsChangeEntry[] = [];
  /** The batch's latest entry per path: a transaction's write and set-perms of one node read the same committed node. */
  #last = new Map<string, XsChangeEntry>();
  #dropped = 0;
  #queued = false;

  constructor(send: (r: XsChangesReport) => void) {
    this.#send = send;
  }

  /** The daemon's tree, read for each change's value (set once the daemon exists). */
  attach(tree: XsTree): void {
    this.#tree = tree;
  }

  readonly onChange = (change: XsChange, domid: number): void => {
    if (this.#batch.length >= XS_CHANGES_BATCH_MAX) {
      this.#dropped++;
      return;
    }
    const node = change.removed ? undefined : this.#tree?.get(change.path);
    const e: XsChangeEntry = {
      at: performance.timeOrigin + performance.now(),
      domid,
      path: change.path,
      value: node === undefined ? null : utf8.decode(node.value).slice(0, VALUE_MAX),
      perms: (node?.perms ?? change.perms).map(formatPerm),
    };
    const last = this.#last.get(e.path);
    if (
      last !== undefined &&
      last.domid === domid &&
      last.value === e.value &&
      last.perms.join() === e.perms.join()
    )
      return;
    this.#last.set(e.path, e);
    this.#batch.push(e);
    if (!this.#queued) {
      this.#queued = true;
      queueMicrotask(() => this.#flush());
    }
  };

  #flush(): void {
    this.#queued = false;
    const entries = this.#batch;
    this.#batch = [];
    this.#last.clear();
    const dropped = this.#dropped;
    this.#dropped = 0;
    this.#send({ t: XS_CHANGES_REPORT, entries, dropped });
  }
}

/** The host's side: a Domain-0 report checked field by field; null when it is not one. */
export function parseXsChanges(data: unknown): XsChangesReport | null {
  if (typeof data !== "object" || data === null) return null;
  const r = data as Record<string, unknown>;
  if (r.t !== XS_CHANGES_REPORT || !Array.isArray(r.entries) || r.entries.length > XS_CHANGES_BATCH_MAX)
    return null;
  const dropped =
    typeof r.dropped === "number" && Number.isInteger(r.dropped) && r.dropped >= 0 ? r.dropped : 0;
  const entries: XsChangeEntry[] = [];
  for (const e of r.entries as unknown[]) {
    if (typeof e !== "object" || e === null) return null;
    const o = e as Record<string, unknown>;
    if (
      typeof o.at !== "number" ||
      !Number.isFinite(o.at) ||
      typeof o.domid !== "number" ||
      !Number.isInteger(o.domid) ||
      typeof o.path !== "string" ||
      o.path.length > 4096 ||
      (o.value !== null && typeof o.value !== "string") ||
      !Array.isArray(o.perms) ||
      o.perms.length > 256 ||
      !o.perms.every((p) => typeof p === "string" && p.length <= 16)
    )
      return null;
    entries.push({
      at: o.at,
      domid: o.domid,
      path: o.path,
      value: o.value === null ? null : String(o.value).slice(0, VALUE_MAX),
      perms: o.perms as string[],
    });
  }
  return { t: XS_CHANGES_REPORT, entries, dropped };
}
