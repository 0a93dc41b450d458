/**
 * A xenstore client over any XsTransport (the dom0 unix socket today, a guest's ring page
 * later). Requests carry increasing req_ids and are matched to replies by req_id; watch
 * events (XS_WATCH_EVENT, req_id 0) are routed to their watch by token.
 *
 * Errors from the daemon become PvnetError with the Xen error name as `code` (ENOENT,
 * EACCES, EAGAIN...); a lost connection is EIO.
 */
import { PvnetError } from "../base/errors.js";
import { isParseError } from "../wire/layout.js";
import {
  joinXsStrings,
  splitXsStrings,
  XENSTORE_PAYLOAD_MAX,
  XS_DIRECTORY,
  XS_DIRECTORY_PART,
  XS_ERROR,
  XS_GET_DOMAIN_PATH,
  XS_GET_PERMS,
  XS_INTRODUCE,
  XS_IS_DOMAIN_INTRODUCED,
  XS_MKDIR,
  XS_READ,
  XS_RELEASE,
  XS_RM,
  XS_SET_PERMS,
  XS_TRANSACTION_END,
  XS_TRANSACTION_START,
  XS_UNWATCH,
  XS_WATCH,
  XS_WATCH_EVENT,
  XS_WRITE,
  type XsMsgRepr,
  xsMsgBytes,
  xsTypeName,
} from "../wire/xen/xs-wire.js";
import { isXsFail } from "./path.js";
import { formatPerm, parsePerm, type XsPerm } from "./store/perms.js";
import { connectXsSocket } from "./transport/socket-client.js";
import type { XsTransport } from "./transport/xs-transport.js";
import { XsWatch } from "./watch-queue.js";

export type { XsPerm } from "./store/perms.js";
export type { XsWatchEvent } from "./watch-queue.js";
export { XsWatch } from "./watch-queue.js";

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** The operations that work both outside and inside a transaction. */
export abstract class XsOps {
  /** Sends one request and resolves with the reply payload; rejects with the daemon's error. */
  protected abstract request(type: number, payload: Uint8Array): Promise<Uint8Array>;

  /** The raw value of `path` (binary-safe). */
  readBytes(path: string): Promise<Uint8Array> {
    return this.request(XS_READ, joinXsStrings([path]));
  }
  /** The value of `path` as UTF-8 text. */
  async read(path: string): Promise<string> {
    return utf8d.decode(await this.readBytes(path));
  }
  /** Whether `path` exists (a read that does not fail with ENOENT). */
  async exists(path: string): Promise<boolean> {
    try {
      await this.readBytes(path);
      return true;
    } catch (e) {
      if (e instanceof PvnetError && e.code === "ENOENT") return false;
      throw e;
    }
  }
  async write(path: string, value: string | Uint8Array): Promise<void> {
    const p = utf8.encode(path);
    const v = typeof value === "string" ? utf8.encode(value) : value;
    // WRITE is `path\0value`: the value carries no terminator.
    const payload = new Uint8Array(p.length + 1 + v.length);
    payload.set(p, 0);
    payload.set(v, p.length + 1);
    await this.request(XS_WRITE, payload);
  }
  /**
   * Child names of `path`. A list too long for one reply (E2BIG) is read in chunks with
   * DIRECTORY_PART, restarting if the node's generation changes meanwhile, as libxenstore does.
   */
  async directory(path: string): Promise<string[]> {
    try {
      return strings(await this.request(XS_DIRECTORY, joinXsStrings([path])), XS_DIRECTORY);
    } catch (e) {
      if (!(e instanceof PvnetError) || e.code !== "E2BIG") throw e;
    }
    for (let attempt = 0; attempt < 8; attempt++) {
      const names: string[] = [];
      let gen: string | undefined;
      let offset = 0;
      for (;;) {
        const part = strings(
          await this.request(XS_DIRECTORY_PART, joinXsStrings([path, String(offset)])),
          XS_DIRECTORY_PART,
        );
        if (part.length === 0) throw new PvnetError("EIO", `xenstore XS_DIRECTORY_PART ${path}: empty reply`);
        if (gen !== undefined && part[0] !== gen) break;
        gen = part[0];
        const chunk = part.slice(1);
        const last = chunk.length > 0 && chunk[chunk.length - 1] === "";
        const got = last ? chunk.slice(0, -1) : chunk;
        if (!last && got.length === 0)
          throw new PvnetError("EIO", `xenstore XS_DIRECTORY_PART ${path}: no progress`);
        for (const n of got) offset += utf8.encode(n).length + 1;
        names.push(...got);
        if (last) return names;
      }
    }
    throw new PvnetError("EAGAIN", `xenstore directory ${path}: kept changing while being read`);
  }
  async mkdir(path: string): Promise<void> {
    await this.request(XS_MKDIR, joinXsStrings([path]));
  }
  /** Removes `path` and everything below it. */
  async rm(path: string): Promise<void> {
    await this.request(XS_RM, joinXsStrings([path]));
  }
  /** The permissions of `path`; the first entry is the owner and the default for others. */
  async getPerms(path: string): Promise<XsPerm[]> {
    const list = strings(await this.request(XS_GET_PERMS, joinXsStrings([path])), XS_GET_PERMS);
    return list.map((s) => {
      const p = parsePerm(s);
      if (isXsFail(p)) throw new PvnetError("EIO", `Bad permission "${s}" from xenstored for ${path}`);
      return p;
    });
  }
  async setPerms(path: string, perms: readonly XsPerm[]): Promise<void> {
    await this.request(XS_SET_PERMS, joinXsStrings([path, ...perms.map(formatPerm)]));
  }
}

/** A transaction in progress: reads see a snapshot, writes are applied at commit. */
export class XsTransaction extends XsOps {
  readonly id: number;
  readonly #client: XsClient;

  constructor(client: XsClient, id: number) {
    super();
    this.#client = client;
    this.id = id;
  }
  protected request(type: number, payload: Uint8Array): Promise<Uint8Array> {
    return this.#client.requestIn(this.id, type, payload);
  }
}

interface Pending {
  /** For messages: "XS_READ /local/domain/0/name". */
  what: string;
  type: number;
  resolve: (payload: Uint8Array) => void;
  reject: (e: PvnetError) => void;
}

export class XsClient extends XsOps {
  readonly #t: XsTransport;
  readonly #pending = new Map<number, Pending>();
  readonly #watches = new Map<string, XsWatch>();
  #nextReqId = 1;
  #nextToken = 1;
  #closed: string | undefined;

  constructor(transport: XsTransport) {
    super();
    this.#t = transport;
    transport.onMessage((m) => this.#dispatch(m));
    transport.onClose((reason) => this.#shutdown(reason));
  }

  /** Connects over the unix socket (default: where libxenstore looks). */
  static async connect(path?: string): Promise<XsClient> {
    return new XsClient(await connectXsSocket(path));
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  protected request(type: number, payload: Uint8Array): Promise<Uint8Array> {
    return this.requestIn(0, type, payload);
  }

  /** One request in transaction `txId` (0: none). Public for XsTransaction and tools. */
  requestIn(txId: number, type: number, payload: Uint8Array): Promise<Uint8Array> {
    if (this.#closed !== undefined) {
      return Promise.reject(new PvnetError("EIO", `xenstore ${xsTypeName(type)}: ${this.#closed}`));
    }
    if (payload.length > XENSTORE_PAYLOAD_MAX) {
      // The daemon would drop the whole connection for this; refuse it here instead.
      return Promise.reject(
        new PvnetError(
          "E2BIG",
          `xenstore ${describe(type, payload)}: payload ${payload.length} > ${XENSTORE_PAYLOAD_MAX}`,
        ),
      );
    }
    const reqId = this.#nextReqId;
    // req_id 0 is what WATCH_EVENTs carry; skip it when the counter wraps.
    this.#nextReqId = (this.#nextReqId + 1) >>> 0 || 1;
    return new Promise((resolve, reject) => {
      this.#pending.set(reqId, { what: describe(type, payload), type, resolve, reject });
      this.#t.send(xsMsgBytes({ type, reqId, txId, payload }));
    });
  }

  /**
   * Runs `fn` in a transaction and commits; retries the whole of `fn` while the commit
   * answers EAGAIN (something it read changed meanwhile). An exception aborts.
   */
  async transaction<T>(
    fn: (tx: XsTransaction) => Promise<T>,
    opts: { maxAttempts?: number } = {},
  ): Promise<T> {
    const max = opts.maxAttempts ?? 32;
    for (let attempt = 1; ; attempt++) {
      const tx = await this.transactionStart();
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        await this.transactionEnd(tx, false).catch(() => undefined); // the first error is the one to report
        throw e;
      }
      try {
        await this.transactionEnd(tx, true);
        return result;
      } catch (e) {
        if (!(e instanceof PvnetError && e.code === "EAGAIN") || attempt >= max) throw e;
      }
    }
  }

  async transactionStart(): Promise<XsTransaction> {
    const [id] = strings(await this.request(XS_TRANSACTION_START, joinXsStrings([""])), XS_TRANSACTION_START);
    const n = Number(id);
    if (!Number.isInteger(n) || n <= 0)
      throw new PvnetError("EIO", `Bad transaction id "${id}" from xenstored`);
    return new XsTransaction(this, n);
  }

  /** Commits (`commit` true) or aborts; a commit may fail with EAGAIN. */
  async transactionEnd(tx: XsTransaction, commit: boolean): Promise<void> {
    await this.requestIn(tx.id, XS_TRANSACTION_END, joinXsStrings([commit ? "T" : "F"]));
  }

  /**
   * Registers a watch on `path` and everything below it. The daemon fires it once at once
   * (the initial event), then on every change. `token` defaults to a fresh unique one.
   */
  async watch(path: string, token?: string): Promise<XsWatch> {
    const tok = token ?? `pvnet-${this.#nextToken++}`;
    if (this.#watches.has(tok)) throw new PvnetError("EEXIST", `Watch token "${tok}" already in use`);
    const w = new XsWatch(path, tok, () => this.unwatch(path, tok));
    // Registered before the request: the initial event follows the reply immediately.
    this.#watches.set(tok, w);
    try {
      await this.request(XS_WATCH, joinXsStrings([path, tok]));
    } catch (e) {
      this.#watches.delete(tok);
      w.end();
      throw e;
    }
    return w;
  }

  /** Removes a watch; its iterator ends. */
  async unwatch(path: string, token: string): Promise<void> {
    const w = this.#watches.get(token);
    this.#watches.delete(token);
    w?.end();
    if (this.#closed === undefined) await this.request(XS_UNWATCH, joinXsStrings([path, token]));
  }

  async getDomainPath(domid: number): Promise<string> {
    const [p] = strings(
      await this.request(XS_GET_DOMAIN_PATH, joinXsStrings([String(domid)])),
      XS_GET_DOMAIN_PATH,
    );
    return p ?? "";
  }
  async introduce(domid: number, gfn: number, evtchn: number): Promise<void> {
    await this.request(XS_INTRODUCE, joinXsStrings([String(domid), String(gfn), String(evtchn)]));
  }
  async release(domid: number): Promise<void> {
    await this.request(XS_RELEASE, joinXsStrings([String(domid)]));
  }
  async isDomainIntroduced(domid: number): Promise<boolean> {
    const r = strings(
      await this.request(XS_IS_DOMAIN_INTRODUCED, joinXsStrings([String(domid)])),
      XS_IS_DOMAIN_INTRODUCED,
    );
    return r[0] === "T";
  }

  /** Closes the connection: pending requests fail with EIO, watch iterators end. */
  close(): void {
    this.#t.close();
    this.#shutdown("client closed");
  }

  #dispatch(m: XsMsgRepr): void {
    if (m.type === XS_WATCH_EVENT) {
      const s = splitXsStrings(m.payload);
      if (isParseError(s) || s.length < 2) return; // a malformed event names no watch we could route it to
      this.#watches.get(s[1]!)?.push({ path: s[0]!, token: s[1]! });
      return;
    }
    const p = this.#pending.get(m.reqId);
    if (p === undefined) {
      this.#t.close();
      this.#shutdown(`reply with unknown req_id ${m.reqId} (${xsTypeName(m.type)})`);
      return;
    }
    this.#pending.delete(m.reqId);
    if (m.type === XS_ERROR) {
      const s = splitXsStrings(m.payload);
      const code = isParseError(s) || s[0] === undefined ? "EINVAL" : s[0];
      p.reject(new PvnetError(code, `xenstore ${p.what}: ${code}`));
    } else if (m.type !== p.type) {
      p.reject(new PvnetError("EIO", `xenstore ${p.what}: reply of type ${xsTypeName(m.type)}`));
    } else {
      p.resolve(m.payload);
    }
  }

  #shutdown(reason: string): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    for (const p of this.#pending.values()) p.reject(new PvnetError("EIO", `xenstore ${p.what}: ${reason}`));
    this.#pending.clear();
    for (const w of this.#watches.values()) w.end();
    this.#watches.clear();
  }
}

function describe(type: number, payload: Uint8Array): string {
  const nul = payload.indexOf(0);
  const first = utf8d.decode(
    payload.subarray(0, nul < 0 ? Math.min(payload.length, 64) : Math.min(nul, 256)),
  );
  return first === "" ? xsTypeName(type) : `${xsTypeName(type)} ${first}`;
}

function strings(payload: Uint8Array, type: number): string[] {
  const s = splitXsStrings(payload);
  if (isParseError(s)) throw new PvnetError("EIO", `xenstore ${xsTypeName(type)}: bad reply: ${s.error}`);
  return s;
}
