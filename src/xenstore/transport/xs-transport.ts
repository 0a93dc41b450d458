/**
 * What XsClient needs from a transport. Whole messages, not bytes: the socket transport
 * frames its stream with XsFramer, and a guest ring transport can do the same over its
 * byte rings, so the client never sees partial messages.
 */
import type { XsMsgRepr } from "../../wire/xen/xs-wire.js";

/**
 * A message transport for XsClient: whole xs_wire messages both ways. A ring transport for
 * guests implements the same interface.
 */
export interface XsTransport {
  /** Sends one whole encoded message. */
  send(msg: Uint8Array): void;
  /** Registers the handler for every message from the daemon (replies and watch events). */
  onMessage(cb: (m: XsMsgRepr) => void): void;
  /** Registers the handler called once when the transport is gone, with the reason. */
  onClose(cb: (reason: string) => void): void;
  close(): void;
}
