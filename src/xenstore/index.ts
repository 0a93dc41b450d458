/**
 * xenstore: the daemon ({@link Xenstored}: tree, permissions, transactions, watches,
 * quotas, every request of Xen 4.17's xs_wire), its unix-socket transport
 * ({@link XsSocketServer}, where Debian's xenstore-utils connect), the client
 * ({@link XsClient}, also over a guest's ring page), the paths and keys of a split network
 * device, and xenbus state helpers. Daemon errors reach the client as a `PvnetError` whose
 * `code` is the Xen error name (ENOENT, EACCES, EAGAIN, ...).
 *
 * @module pvnet/xenstore
 */
export { XsClient, XsOps, type XsPerm, XsTransaction, XsWatch, type XsWatchEvent } from "./client.js";
export {
  Conn,
  Xenstored,
  type XenstoredOptions,
  type XsConnection,
  type XsConnOptions,
  type XsQuotas,
  type XsSink,
} from "./daemon.js";
export {
  type ConnectXenstoreOptions,
  connectXenstore,
  type ServeXenstoreOptions,
  serveXenstore,
  type XenstoreService,
} from "./domain-xenstored.js";
export * from "./keys.js";
export {
  baseName,
  childOf,
  isAtOrBelow,
  isXsFail,
  parentOf,
  type XsErrName,
  type XsFail,
} from "./path.js";
export {
  formatPerm,
  formatPerms,
  type PermLetter,
  parsePerm,
  parsePerms,
  type XsPerms,
} from "./store/perms.js";
export {
  traceConnLine,
  traceLine,
  tracePayload,
  type XsTraceDir,
  XsTraceFile,
  type XsTraceSink,
} from "./trace.js";
export { XsRingServer, type XsRingServerOptions, type XsRingServerStats } from "./transport/domain-ring.js";
export { loopbackTransport } from "./transport/loopback.js";
export { type XsRingClientOptions, XsRingTransport } from "./transport/ring-client.js";
export { type XsConnector, XsSocketServer, type XsSocketServerOptions } from "./transport/socket.js";
export { connectXsSocket, defaultXsSocketPath } from "./transport/socket-client.js";
export type { XsTransport } from "./transport/xs-transport.js";
export * from "./xenbus.js";
