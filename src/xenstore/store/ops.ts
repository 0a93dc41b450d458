/**
 * The node operations behind READ, DIRECTORY, GET_PERMS, WRITE, MKDIR, RM and SET_PERMS,
 * written once against a NodeAccess so the same code runs on the live tree and inside a
 * transaction. They check permissions and quotas and keep parents' child lists in step;
 * each change they make is returned as an XsChange for the watch code. Refusals are
 * values (XsFail) carrying the xs_wire error name.
 */
import { childOf, parentOf, type XsFail, xsFail } from "../path.js";
import { canRead, canWrite, checkSetPerms, inheritPerms, type PermCaller, type XsPerms } from "./perms.js";
import type { XsQuotas } from "./quota.js";
import {
  EMPTY_VALUE,
  type NodeAccess,
  nodeSize,
  subtreePaths,
  type XsNode,
  type XsNodeData,
} from "./tree.js";

export interface OpCaller extends PermCaller {
  readonly quotas: Readonly<XsQuotas>;
}

/** One change, as watches see it. */
export interface XsChange {
  /** The node the operation named (absolute). */
  readonly path: string;
  /** Perms of the changed node (for a removal, the perms it had). */
  readonly perms: XsPerms;
  /** Perms before a SET_PERMS: a watcher that could read either version hears of it. */
  readonly oldPerms?: XsPerms | undefined;
  /** A removal: watches below `path` fire too, reporting their own path. */
  readonly removed: boolean;
}

/**
 * The answer for a missing node: ENOENT, unless the nearest existing ancestor is
 * unreadable to the caller, when even "it does not exist" would leak (EACCES).
 */
function missing(acc: NodeAccess, who: PermCaller, path: string): XsFail {
  for (let p = parentOf(path); p !== undefined; p = parentOf(p)) {
    const n = acc.get(p);
    if (n !== undefined) return xsFail(canRead(n.perms, who) ? "ENOENT" : "EACCES");
  }
  return xsFail("ENOENT");
}

/** The node if it exists and the caller may read it. */
export function readableNode(acc: NodeAccess, who: PermCaller, path: string): XsNode | XsFail {
  const node = acc.get(path);
  if (node === undefined) return missing(acc, who, path);
  return canRead(node.perms, who) ? node : xsFail("EACCES");
}

function tooBig(who: OpCaller, data: XsNodeData): boolean {
  return !who.privileged && nodeSize(data) > who.quotas.nodeSize;
}

/** WRITE: sets the value, creating the node and any missing parents (empty values). */
export function writeOp(acc: NodeAccess, who: OpCaller, path: string, value: Uint8Array): XsChange | XsFail {
  const node = acc.get(path);
  if (node === undefined) return createOp(acc, who, path, value);
  if (!canWrite(node.perms, who)) return xsFail("EACCES");
  const data = { value, perms: node.perms, children: node.children };
  if (tooBig(who, data)) return xsFail("ENOSPC");
  if (!acc.roomFor(1)) return xsFail("ENOSPC");
  acc.put(path, data);
  return { path, perms: node.perms, removed: false };
}

/** MKDIR: an existing node is left as it is; otherwise created like WRITE with "". */
export function mkdirOp(acc: NodeAccess, who: OpCaller, path: string): XsChange | undefined | XsFail {
  const node = acc.get(path);
  if (node === undefined) return createOp(acc, who, path, EMPTY_VALUE);
  return canWrite(node.perms, who) ? undefined : xsFail("EACCES");
}

/**
 * Creates `path` (absent) and its missing ancestors. The nearest existing ancestor must
 * be writable; new nodes inherit its perms (owned by an unprivileged creator).
 */
function createOp(acc: NodeAccess, who: OpCaller, path: string, value: Uint8Array): XsChange | XsFail {
  const newPaths = [path];
  let top = parentOf(path)!;
  let anchor = acc.get(top);
  while (anchor === undefined) {
    newPaths.push(top);
    top = parentOf(top)!;
    anchor = acc.get(top);
  }
  if (!canWrite(anchor.perms, who)) return xsFail("EACCES");
  if (!who.privileged && acc.nodesOwnedBy(who.domid) + newPaths.length > who.quotas.nodes) {
    return xsFail("ENOSPC");
  }
  if (!acc.roomFor(newPaths.length + 1)) return xsFail("ENOSPC");
  newPaths.reverse(); // top-down
  const firstName = newPaths[0].slice(newPaths[0].lastIndexOf("/") + 1);
  const anchorData = { value: anchor.value, perms: anchor.perms, children: [...anchor.children, firstName] };
  const perms = inheritPerms(anchor.perms, who);
  const leaf = { value, perms, children: [] };
  if (tooBig(who, anchorData) || tooBig(who, leaf)) return xsFail("ENOSPC");
  acc.put(top, anchorData);
  for (let i = 0; i < newPaths.length - 1; i++) {
    const next = newPaths[i + 1];
    acc.put(newPaths[i], { value: EMPTY_VALUE, perms, children: [next.slice(next.lastIndexOf("/") + 1)] });
  }
  acc.put(path, leaf);
  return { path, perms, removed: false };
}

/**
 * RM: removes the node and everything below it. A missing node is fine when its parent
 * exists (ENOENT otherwise); the root cannot go (EINVAL).
 */
export function rmOp(acc: NodeAccess, who: OpCaller, path: string): XsChange | undefined | XsFail {
  const parentPath = parentOf(path);
  if (parentPath === undefined) return xsFail("EINVAL");
  const node = acc.get(path);
  if (node === undefined) {
    const why = missing(acc, who, path);
    if (why.err === "EACCES") return why;
    return acc.get(parentPath) !== undefined ? undefined : why;
  }
  if (!canWrite(node.perms, who)) return xsFail("EACCES");
  const doomed = subtreePaths(acc, path);
  if (!acc.roomFor(doomed.length + 1)) return xsFail("ENOSPC");
  // Inside a transaction a node read earlier may outlive a parent removed since (the view
  // mixes the transaction's copies with the live tree); C xenstored answers EINVAL then,
  // and the commit fails with EAGAIN anyway.
  const parent = acc.get(parentPath);
  if (parent === undefined) return xsFail("EINVAL");
  const name = path.slice(path.lastIndexOf("/") + 1);
  acc.put(parentPath, {
    value: parent.value,
    perms: parent.perms,
    children: parent.children.filter((c) => c !== name),
  });
  for (const p of doomed) acc.remove(p);
  return { path, perms: node.perms, removed: true };
}

/** SET_PERMS on a node (special nodes are the daemon's). */
export function setPermsOp(acc: NodeAccess, who: OpCaller, path: string, perms: XsPerms): XsChange | XsFail {
  if (!who.privileged && perms.length > who.quotas.permsPerNode) return xsFail("ENOSPC");
  const node = acc.get(path);
  if (node === undefined) return missing(acc, who, path);
  const refused = checkSetPerms(node.perms, perms, who);
  if (refused !== undefined) return refused;
  if (!acc.roomFor(1)) return xsFail("ENOSPC");
  acc.put(path, { value: node.value, perms, children: node.children });
  return { path, perms, oldPerms: node.perms, removed: false };
}

/** Absolute child paths (for tests and tools). */
export function childPaths(path: string, node: XsNode): string[] {
  return node.children.map((c) => childOf(path, c));
}
