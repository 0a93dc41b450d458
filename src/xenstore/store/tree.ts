/**
 * The node tree. Nodes live in a flat map keyed by absolute path, so no operation ever
 * recurses: walks over a subtree use an explicit stack (a guest controls the depth of
 * what it builds, XSA-418). Every node has a value (binary, possibly empty), its child
 * names in creation order, its perms and a generation: a stamp from a store-wide counter,
 * renewed whenever the node changes (value, perms or child list). Transactions compare
 * generations to detect conflicts; DIRECTORY_PART reports it as the child list's version.
 *
 * Nodes are immutable values: a change puts a new node. That is what lets a transaction
 * keep the nodes it has seen without copying.
 *
 * Keeping parent and children consistent is the job of the operations (ops.ts); the
 * tree only stores, counts nodes per owner (for quotas) and stamps generations.
 */
import { assert } from "../../base/assert.js";
import { childOf } from "../path.js";
import { ownerOf, type XsPerms } from "./perms.js";

export interface XsNode {
  readonly value: Uint8Array;
  readonly perms: XsPerms;
  readonly children: readonly string[];
  /** Store-wide stamp of the last change; 0 for a node changed inside a transaction. */
  readonly gen: number;
}

/** What an operation writes; the store adds the generation. */
export interface XsNodeData {
  readonly value: Uint8Array;
  readonly perms: XsPerms;
  readonly children: readonly string[];
}

/**
 * The view an operation works on: the live tree, or a transaction's private view of it.
 * `get` is also how a transaction learns what was read.
 */
export interface NodeAccess {
  get(path: string): XsNode | undefined;
  put(path: string, data: XsNodeData): void;
  remove(path: string): void;
  /** Nodes owned by `domid` as this view sees them (node quota). */
  nodesOwnedBy(domid: number): number;
  /** May `n` more nodes be changed through this view (a transaction's size quota)? */
  roomFor(n: number): boolean;
}

export const EMPTY_VALUE: Uint8Array = new Uint8Array(0);

export class XsTree implements NodeAccess {
  readonly #nodes = new Map<string, XsNode>();
  readonly #owned = new Map<number, number>();
  #gen = 0;

  /** A tree holding only "/" with the given perms. */
  constructor(rootPerms: XsPerms) {
    this.put("/", { value: EMPTY_VALUE, perms: rootPerms, children: [] });
  }

  get size(): number {
    return this.#nodes.size;
  }

  /** The last generation handed out. */
  get generation(): number {
    return this.#gen;
  }

  get(path: string): XsNode | undefined {
    return this.#nodes.get(path);
  }

  put(path: string, data: XsNodeData): void {
    const old = this.#nodes.get(path);
    if (old !== undefined) this.#count(ownerOf(old.perms), -1);
    this.#count(ownerOf(data.perms), 1);
    this.#nodes.set(path, {
      value: data.value,
      perms: data.perms,
      children: data.children,
      gen: ++this.#gen,
    });
  }

  remove(path: string): void {
    assert(path !== "/", "xenstore tree: the root is never removed");
    const old = this.#nodes.get(path);
    if (old === undefined) return;
    this.#count(ownerOf(old.perms), -1);
    this.#nodes.delete(path);
  }

  nodesOwnedBy(domid: number): number {
    return this.#owned.get(domid) ?? 0;
  }

  roomFor(_n: number): boolean {
    return true;
  }

  /** Every path in the tree (tests and debugging). */
  paths(): IterableIterator<string> {
    return this.#nodes.keys();
  }

  #count(domid: number, delta: number): void {
    const n = (this.#owned.get(domid) ?? 0) + delta;
    if (n === 0) this.#owned.delete(domid);
    else this.#owned.set(domid, n);
  }
}

/**
 * `path` and everything below it as one view sees it, parents before children, walked
 * with an explicit stack. Missing children (an inconsistency) are skipped.
 */
export function subtreePaths(acc: NodeAccess, path: string): string[] {
  const out: string[] = [];
  const stack = [path];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const node = acc.get(p);
    if (node === undefined) continue;
    out.push(p);
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(childOf(p, node.children[i]));
  }
  return out;
}

/** Size C xenstored charges a node against the node-size quota: value, child names, perms. */
export function nodeSize(data: XsNodeData): number {
  let n = data.value.length + 8 * data.perms.length;
  for (const c of data.children) n += c.length + 1;
  return n;
}
