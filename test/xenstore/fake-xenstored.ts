/**
 * A deliberately small in-memory daemon implementing the XsConnector contract, for testing
 * the transport, the client and xenbus without the real Xenstored. Transactions have no
 * isolation; `failCommits` makes the next commits answer EAGAIN to exercise retries.
 */
import {
  joinXsStrings,
  splitXsPathValue,
  splitXsStrings,
  XS_DIRECTORY,
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
  xsMsgBytes,
} from "../../src/wire/xen/xs-wire.js";
import type { XsConnection, XsConnector, XsSink } from "../../src/xenstore/transport/socket.js";

interface Node {
  value: Uint8Array;
  perms: string[];
}
interface FakeConn {
  id: number;
  sink: XsSink;
  watches: Map<string, string>; // token -> path
}

const enc = new TextEncoder();
const OK = joinXsStrings(["OK"]);

export class FakeXenstored implements XsConnector {
  readonly nodes = new Map<string, Node>([["/", { value: new Uint8Array(0), perms: ["n0"] }]]);
  readonly conns = new Set<FakeConn>();
  readonly introduced = new Set<number>();
  /** Requests seen, for assertions: [type, txId]. */
  readonly seen: [number, number][] = [];
  failCommits = 0;
  closedConns = 0;
  #nextId = 1;
  #nextTx = 1;

  connect(_opts: { domid: number; privileged: boolean }, sink: XsSink): XsConnection {
    const c: FakeConn = { id: this.#nextId++, sink, watches: new Map() };
    this.conns.add(c);
    return {
      id: c.id,
      domid: 0,
      handle: (type, reqId, txId, payload) => this.#handle(c, type, reqId, txId, payload),
      close: () => {
        this.conns.delete(c);
        this.closedConns++;
      },
    };
  }

  #handle(c: FakeConn, type: number, reqId: number, txId: number, payload: Uint8Array): undefined {
    this.seen.push([type, txId]);
    const reply = (p: Uint8Array): undefined => {
      c.sink.send(xsMsgBytes({ type, reqId, txId, payload: p }));
    };
    const err = (name: string): undefined => {
      c.sink.send(xsMsgBytes({ type: XS_ERROR, reqId, txId, payload: joinXsStrings([name]) }));
    };
    const s = splitXsStrings(payload);
    const args = Array.isArray(s) ? s : [];
    const path = args[0] ?? "";
    switch (type) {
      case XS_READ: {
        const n = this.nodes.get(path);
        return n === undefined ? err("ENOENT") : reply(n.value);
      }
      case XS_WRITE: {
        const pv = splitXsPathValue(payload);
        if (!("path" in pv)) return err("EINVAL");
        this.#set(pv.path, pv.value.slice());
        return reply(OK);
      }
      case XS_MKDIR:
        if (!this.nodes.has(path)) this.#set(path, new Uint8Array(0));
        return reply(OK);
      case XS_DIRECTORY:
        if (!this.nodes.has(path)) return err("ENOENT");
        return reply(joinXsStrings(this.#children(path)));
      case XS_RM:
        if (!this.nodes.has(path)) return reply(OK);
        for (const k of [...this.nodes.keys()])
          if (k === path || k.startsWith(`${path}/`)) this.nodes.delete(k);
        this.#fire(path);
        return reply(OK);
      case XS_GET_PERMS: {
        const n = this.nodes.get(path);
        return n === undefined ? err("ENOENT") : reply(joinXsStrings(n.perms));
      }
      case XS_SET_PERMS: {
        const n = this.nodes.get(path);
        if (n === undefined) return err("ENOENT");
        n.perms = args.slice(1);
        this.#fire(path);
        return reply(OK);
      }
      case XS_WATCH:
        if (c.watches.has(args[1] ?? "")) return err("EEXIST");
        c.watches.set(args[1] ?? "", path);
        reply(OK);
        c.sink.send(
          xsMsgBytes({
            type: XS_WATCH_EVENT,
            reqId: 0,
            txId: 0,
            payload: joinXsStrings([path, args[1] ?? ""]),
          }),
        );
        return;
      case XS_UNWATCH:
        if (!c.watches.delete(args[1] ?? "")) return err("ENOENT");
        return reply(OK);
      case XS_TRANSACTION_START:
        return reply(joinXsStrings([String(this.#nextTx++)]));
      case XS_TRANSACTION_END:
        if (path === "T" && this.failCommits > 0) {
          this.failCommits--;
          return err("EAGAIN");
        }
        return reply(OK);
      case XS_GET_DOMAIN_PATH:
        return reply(joinXsStrings([`/local/domain/${path}`]));
      case XS_INTRODUCE:
        this.introduced.add(Number(path));
        return reply(OK);
      case XS_RELEASE:
        this.introduced.delete(Number(path));
        return reply(OK);
      case XS_IS_DOMAIN_INTRODUCED:
        return reply(joinXsStrings([this.introduced.has(Number(path)) ? "T" : "F"]));
      default:
        return err("ENOSYS");
    }
  }

  #children(path: string): string[] {
    const prefix = path === "/" ? "/" : `${path}/`;
    const out: string[] = [];
    for (const k of this.nodes.keys()) {
      if (k !== path && k.startsWith(prefix) && !k.slice(prefix.length).includes("/"))
        out.push(k.slice(prefix.length));
    }
    return out;
  }

  #set(path: string, value: Uint8Array): void {
    const parts = path.split("/").filter((p) => p !== "");
    for (let i = 1; i < parts.length; i++) {
      const p = `/${parts.slice(0, i).join("/")}`;
      if (!this.nodes.has(p)) this.nodes.set(p, { value: new Uint8Array(0), perms: ["n0"] });
    }
    const old = this.nodes.get(path);
    this.nodes.set(path, { value, perms: old?.perms ?? ["n0"] });
    this.#fire(path);
  }

  #fire(path: string): void {
    for (const c of this.conns) {
      for (const [token, wpath] of c.watches) {
        if (path === wpath || path.startsWith(`${wpath}/`)) {
          c.sink.send(
            xsMsgBytes({ type: XS_WATCH_EVENT, reqId: 0, txId: 0, payload: joinXsStrings([path, token]) }),
          );
        }
      }
    }
  }
}

export function text(s: string): Uint8Array {
  return enc.encode(s);
}
