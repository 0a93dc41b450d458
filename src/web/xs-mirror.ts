/**
 * The web view's copy of the xenstore tree, kept by one watch on "/" rather than by
 * re-reading the tree: each event re-reads only the node it names. Besides, a bounded log
 * of every change as xenstored made it (Domain-0's "xs-changes" reports: exact values and
 * the writing domain, which a watch cannot give, since a node is read only after its event)
 * lets a vif's handshake (the writes under its frontend and backend directories) be
 * replayed. Both start before the first guest boots (HostOptions.onDom0Ready), so the log
 * holds each handshake from its first write.
 */
import { PvnetError } from "../base/errors.js";
import type { Machine } from "../hv/machine.js";
import type { XsClient, XsWatch } from "../xenstore/client.js";
import { formatPerm } from "../xenstore/store/perms.js";
import { parseXsChanges } from "./xs-changes.js";

/** One node as the page shows it. */
export interface XsNodeView {
  /** UTF-8 text of the value, at most VALUE_MAX characters (binary bytes replaced). */
  value: string;
  /** Permissions as `xenstore-ls -p` prints them: n0, r1, ... */
  perms: string[];
}

/** One change as the log holds it: the node's value and perms after it, or removed. */
export interface XsLogEntry {
  seq: number;
  /** Milliseconds since the mirror started. */
  atMs: number;
  /** The domain whose request made the change. */
  domid: number;
  path: string;
  /** null: the node was removed. */
  node: XsNodeView | null;
}

const VALUE_MAX = 256;
/** Changes kept for replay: a host's boot writes a few hundred; a long run keeps the latest. */
export const LOG_MAX = 8192;
/** Nodes mirrored at most (xenstored's own quotas bound the tree far below a browser's limits). */
const NODES_MAX = 20_000;
/** Depth of the tree walk (xenstore paths are shallow; this stops a pathological one). */
const DEPTH_MAX = 32;

const utf8 = new TextDecoder("utf-8", { fatal: false });

export class XsMirror {
  readonly #xs: XsClient;
  readonly #nodes = new Map<string, XsNodeView>();
  readonly #log: XsLogEntry[] = [];
  #seq = 0;
  readonly #t0 = performance.timeOrigin + performance.now();
  /** Changes Domain-0 could not report (a burst past its batch bound). */
  droppedChanges = 0;
  #watch: XsWatch | null = null;
  #closed = false;
  /** Paths changed since the last `takeChanges`, with their current view (null: removed). */
  #changed = new Map<string, XsNodeView | null>();
  /** Called after each change is applied (the server batches them into its next tick). */
  onChange: (() => void) | null = null;

  private constructor(xs: XsClient) {
    this.#xs = xs;
  }

  /**
   * Connects to xenstored's socket, reads the tree once and watches it; logs the changes
   * Domain-0 reports to `machine` (a host booted with HostOptions.xsChanges).
   */
  static async start(socketPath: string, machine: Machine): Promise<XsMirror> {
    const { XsClient } = await import("../xenstore/client.js");
    const xs = await XsClient.connect(socketPath);
    const m = new XsMirror(xs);
    machine.on("report", (domid: number, data: unknown) => {
      if (domid !== 0 || m.#closed) return;
      const r = parseXsChanges(data);
      if (r === null) return;
      m.droppedChanges += r.dropped;
      for (const e of r.entries)
        m.#append(e.at, e.domid, e.path, e.value === null ? null : { value: e.value, perms: e.perms });
    });
    try {
      // Watch first, then walk: a change during the walk is read again from its event.
      m.#watch = await xs.watch("/", "pvnet-web");
      await m.#walk("/", 0);
    } catch (e) {
      xs.close();
      throw e;
    }
    void m.#follow(m.#watch);
    return m;
  }

  /** Every node mirrored, path -> view. */
  tree(): Record<string, XsNodeView> {
    return Object.fromEntries(this.#nodes);
  }

  /** The change log, oldest first (at most LOG_MAX entries). */
  log(): readonly XsLogEntry[] {
    return this.#log;
  }

  /** The mirrored value of `path` (for the ring refs the sampler follows), or undefined. */
  value(path: string): string | undefined {
    return this.#nodes.get(path)?.value;
  }

  /** Changes since the last call: path -> view, null for removed. */
  takeChanges(): Map<string, XsNodeView | null> {
    const c = this.#changed;
    this.#changed = new Map();
    return c;
  }

  close(): void {
    this.#closed = true;
    this.#watch?.end();
    this.#xs.close();
  }

  async #follow(w: XsWatch): Promise<void> {
    try {
      let dropped = 0;
      for await (const ev of w) {
        if (this.#closed) return;
        if (w.dropped !== dropped) {
          // Events were lost (a burst past the client's queue): read the whole tree again.
          dropped = w.dropped;
          await this.#resync();
          continue;
        }
        // The initial event names "/" itself: the walk already read it.
        if (ev.path === "/" && this.#nodes.has("/")) continue;
        if (!ev.path.startsWith("/")) continue; // relative or special (@...) names: not in the tree
        await this.#refresh(ev.path);
      }
    } catch {
      // The connection went (the host is stopping): the mirror stays as it was.
    }
  }

  /** Re-reads one node after its event: changed, created (with any missing parents) or removed. */
  async #refresh(path: string): Promise<void> {
    const node = await this.#read(path);
    if (node === null) {
      for (const p of [...this.#nodes.keys()])
        if (p === path || p.startsWith(`${path}/`)) {
          this.#nodes.delete(p);
          this.#changed.set(p, null);
        }
    } else {
      const fresh = !this.#nodes.has(path);
      this.#put(path, node);
      if (fresh) {
        for (let p = parentOf(path); p !== null && !this.#nodes.has(p); p = parentOf(p)) {
          const parent = await this.#read(p);
          if (parent !== null) this.#put(p, parent);
        }
      }
    }
    this.onChange?.();
  }

  async #resync(): Promise<void> {
    const before = new Set(this.#nodes.keys());
    this.#nodes.clear();
    await this.#walk("/", 0);
    for (const p of before) if (!this.#nodes.has(p)) this.#changed.set(p, null);
    this.onChange?.();
  }

  async #walk(path: string, depth: number): Promise<void> {
    if (this.#nodes.size >= NODES_MAX || depth > DEPTH_MAX) return;
    const node = await this.#read(path);
    if (node === null) return;
    this.#put(path, node);
    const kids = await this.#xs.directory(path).catch(() => [] as string[]);
    for (const k of kids) await this.#walk(path === "/" ? `/${k}` : `${path}/${k}`, depth + 1);
  }

  #put(path: string, node: XsNodeView): void {
    if (!this.#nodes.has(path) && this.#nodes.size >= NODES_MAX) return;
    this.#nodes.set(path, node);
    this.#changed.set(path, node);
  }

  #append(at: number, domid: number, path: string, node: XsNodeView | null): void {
    const atMs = Math.round(at - this.#t0);
    this.#log.push({ seq: ++this.#seq, atMs, domid, path, node });
    if (this.#log.length > LOG_MAX) this.#log.splice(0, this.#log.length - LOG_MAX);
  }

  /** The node's value and perms, or null when it does not exist (or cannot be read). */
  async #read(path: string): Promise<XsNodeView | null> {
    try {
      const bytes = await this.#xs.readBytes(path);
      const perms = await this.#xs.getPerms(path);
      return { value: utf8.decode(bytes).slice(0, VALUE_MAX), perms: perms.map(formatPerm) };
    } catch (e) {
      if (e instanceof PvnetError) return null;
      throw e;
    }
  }
}

function parentOf(path: string): string | null {
  if (path === "/") return null;
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}
