/**
 * Transactions, optimistic as in C xenstored. A transaction is a private view over the
 * live tree: the first time it touches a node it remembers the node (and its generation)
 * and from then on sees only its own copy; its changes sit in an overlay. At commit every
 * node it touched (read, written or found absent) must still have the generation it had
 * then; otherwise nothing is applied and the client hears EAGAIN and retries the whole
 * transaction. Watches fire only when a commit applies.
 *
 * Memory: the overlay and the read set are bounded by the per-transaction node quota for
 * unprivileged callers, and a connection may hold only a few transactions.
 */
import type { XsChange } from "./ops.js";
import { ownerOf } from "./perms.js";
import type { NodeAccess, XsNode, XsNodeData, XsTree } from "./tree.js";

/** Generation recorded for "was absent". Real generations start at 1. */
const ABSENT = 0;

export class XsTransaction implements NodeAccess {
  readonly id: number;
  readonly #tree: XsTree;
  /** Node (or absence) as first seen, by path: what this transaction sees unless it changed it. */
  readonly #seen = new Map<string, XsNode | undefined>();
  /** Generation at first sight, for the commit check. */
  readonly #seenGen = new Map<string, number>();
  /** Own changes: a node, or undefined for removed. */
  readonly #overlay = new Map<string, XsNode | undefined>();
  /** Ownership changes made by this transaction (node quota inside it). */
  readonly #ownedDelta = new Map<number, number>();
  readonly #maxNodes: number;
  /** Changes to report to watchers if the commit applies. */
  readonly changes: XsChange[] = [];

  constructor(id: number, tree: XsTree, maxNodes: number) {
    this.id = id;
    this.#tree = tree;
    this.#maxNodes = maxNodes;
  }

  get(path: string): XsNode | undefined {
    if (this.#overlay.has(path)) return this.#overlay.get(path);
    return this.#see(path);
  }

  put(path: string, data: XsNodeData): void {
    const old = this.get(path);
    if (old !== undefined) this.#own(ownerOf(old.perms), -1);
    this.#own(ownerOf(data.perms), 1);
    this.#overlay.set(path, { value: data.value, perms: data.perms, children: data.children, gen: 0 });
  }

  remove(path: string): void {
    const old = this.get(path);
    if (old === undefined) return;
    this.#own(ownerOf(old.perms), -1);
    this.#overlay.set(path, undefined);
  }

  nodesOwnedBy(domid: number): number {
    return this.#tree.nodesOwnedBy(domid) + (this.#ownedDelta.get(domid) ?? 0);
  }

  roomFor(n: number): boolean {
    return this.#overlay.size + n <= this.#maxNodes;
  }

  /** Nodes this transaction holds (memory accounting, tests). */
  get footprint(): number {
    return this.#seen.size + this.#overlay.size;
  }

  /**
   * Applies the overlay to the live tree if nothing this transaction touched changed
   * meanwhile. Returns false (nothing applied) on a conflict.
   */
  commit(): boolean {
    for (const [path, gen] of this.#seenGen) {
      if ((this.#tree.get(path)?.gen ?? ABSENT) !== gen) return false;
    }
    for (const [path, node] of this.#overlay) {
      if (node === undefined) this.#tree.remove(path);
      else this.#tree.put(path, node);
    }
    return true;
  }

  #see(path: string): XsNode | undefined {
    if (this.#seen.has(path)) return this.#seen.get(path);
    const node = this.#tree.get(path);
    this.#seen.set(path, node);
    this.#seenGen.set(path, node?.gen ?? ABSENT);
    return node;
  }

  #own(domid: number, delta: number): void {
    this.#ownedDelta.set(domid, (this.#ownedDelta.get(domid) ?? 0) + delta);
  }
}
