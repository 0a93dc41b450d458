/**
 * Per-domain quotas with C xenstored's defaults. They bound what an unprivileged domain
 * can make the daemon hold: nodes it owns, the size of one node, path length, perms per
 * node, watches and open transactions per connection, nodes one transaction may touch.
 * Privileged connections (dom0) are not limited.
 *
 * Answers follow 4.17: ENOSPC for a full quota, except the watch quota (E2BIG); a path
 * over its length quota is just an invalid path (EINVAL).
 */
import { XENSTORE_REL_PATH_MAX } from "../../wire/xen/xs-wire.js";
import type { XsErrName } from "../path.js";

export interface XsQuotas {
  /** Nodes a domain may own. */
  nodes: number;
  /** Watches per connection. */
  watches: number;
  /**
   * Requests whose replies are still waiting. Our replies are produced synchronously, so
   * the transport's bounded queue enforces this (sink.send returning false).
   */
  outstanding: number;
  /** Open transactions per connection. */
  transactions: number;
  /** Bytes of one node: value + child names + 8 per perm entry. */
  nodeSize: number;
  /** Length of a path below /local/domain/<n>/. */
  pathLength: number;
  /** Entries in one perms list. */
  permsPerNode: number;
  /** Nodes one transaction may create, change or delete. */
  nodesPerTransaction: number;
}

export const DEFAULT_QUOTAS: Readonly<XsQuotas> = Object.freeze({
  nodes: 1000,
  watches: 128,
  outstanding: 20,
  transactions: 10,
  nodeSize: 2048,
  pathLength: XENSTORE_REL_PATH_MAX,
  permsPerNode: 5,
  nodesPerTransaction: 1024,
});

export function resolveQuotas(q: Partial<XsQuotas> | undefined): Readonly<XsQuotas> {
  return Object.freeze({ ...DEFAULT_QUOTAS, ...(q ?? {}) });
}

/** The error a full quota of this kind answers with. */
export function quotaError(kind: keyof XsQuotas): XsErrName {
  if (kind === "watches") return "E2BIG";
  if (kind === "pathLength") return "EINVAL";
  return "ENOSPC";
}

/** True when one more (`have + 1`) would pass `limit` for an unprivileged caller. */
export function overQuota(privileged: boolean, have: number, limit: number): boolean {
  return !privileged && have >= limit;
}
