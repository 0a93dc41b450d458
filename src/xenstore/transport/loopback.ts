/**
 * An in-process transport: an XsClient talking to a Xenstored in the same thread, as the
 * toolstack part of Domain-0 does (creating guests' homes, watching @releaseDomain). No
 * bytes are framed: each request goes straight to XsConnection.handle and each reply or
 * event straight back. The connection is privileged Domain-0 unless told otherwise.
 */
import { isXsNeedMore, isXsTooLong, parseXsMsg, type XsMsgRepr } from "../../wire/xen/xs-wire.js";
import type { XsConnOptions } from "../daemon.js";
import type { XsConnector } from "./socket.js";
import type { XsTransport } from "./xs-transport.js";

export function loopbackTransport(
  daemon: XsConnector,
  opts: XsConnOptions = { domid: 0, privileged: true },
): XsTransport {
  let onMessage: (m: XsMsgRepr) => void = () => {};
  let onClose: (reason: string) => void = () => {};
  let closed = false;
  const shut = (reason: string): void => {
    if (closed) return;
    closed = true;
    onClose(reason);
  };
  const conn = daemon.connect(opts, {
    send: (msg) => {
      const m = parseXsMsg(msg);
      if (!closed && !isXsNeedMore(m) && !isXsTooLong(m)) onMessage(m);
      return true;
    },
    close: (reason) => shut(reason),
  });
  return {
    send: (msg) => {
      if (closed) return;
      const m = parseXsMsg(msg);
      if (isXsNeedMore(m) || isXsTooLong(m)) return; // XsClient never builds one
      conn.handle(m.type, m.reqId, m.txId, m.payload);
    },
    onMessage: (cb) => {
      onMessage = cb;
    },
    onClose: (cb) => {
      onClose = cb;
    },
    close: () => {
      conn.close();
      shut("client closed");
    },
  };
}
