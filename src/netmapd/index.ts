/**
 * netmapd, the process pvnet's switches live in (netmap's kernel side): {@link Netmapd}
 * holds the switches and persistent interfaces, {@link NetmapdServer} answers vale-ctl
 * requests and runs pkt-gen jobs in worker threads over a unix socket, and
 * {@link callNetmapd} is the client.
 *
 * @module pvnet/netmapd
 */
export { callNetmapd, type NetmapdCall } from "./client.js";
export { MAX_BRIDGES, Netmapd, type NetmapdOptions, type PortLease } from "./daemon.js";
export type { NetmapdReply, NetmapdRequest, NetmapdStatus } from "./protocol.js";
export { NetmapdServer, type NetmapdServerOptions } from "./server.js";
export { defaultNetmapdSocket } from "./socket-path.js";
export {
  parseValeCtlArgs,
  VALE_CTL_USAGE,
  VALE_DEFAULT_SLOTS,
  VALE_MAX_SLOTS,
  type ValeCtlCmd,
} from "./vale-ctl.js";
