/**
 * A VXLAN uplink's settings as the host file gives them (`bridges.<name>.uplinks[].vxlan`),
 * and the parsing of its remotes. Outer addresses are IPv4 only.
 */
import { isIPv4 } from "node:net";
import { VXLAN_PORT } from "../../wire/net/vxlan.js";

/** Inner MTU when the host file gives none: 1500 less the 50 bytes VXLAN adds on Ethernet. */
export const VXLAN_DEFAULT_MTU = 1450;
/** Smallest inner MTU (IPv4's minimum). */
export const VXLAN_MIN_MTU = 68;
/**
 * Largest inner MTU: a frame (MTU plus its 14-byte Ethernet header) fits one 2 KiB netmap
 * buffer on each side of the switch, and its datagram one pool buffer.
 */
export const VXLAN_MAX_MTU = 2048 - 14;

export interface VxlanUplinkConfig {
  /** IPv4 address the UDP socket binds (0.0.0.0: every address). */
  readonly local: string;
  /** UDP port bound, and the port sent to on remotes that name none. */
  readonly port: number;
  readonly vni: number;
  /** Static remotes: `a.b.c.d`, or `a.b.c.d:port` for a peer on another VXLAN port. */
  readonly remotes: readonly string[];
  /** Largest inner L3 packet; frames above it (plus 14) are dropped and counted. */
  readonly mtu: number;
}

export interface VxlanRemote {
  readonly address: string;
  readonly port: number;
}

/** `a.b.c.d` or `a.b.c.d:port`; a string naming what is wrong when it is neither. */
export function parseRemote(s: string, defaultPort = VXLAN_PORT): VxlanRemote | string {
  const colon = s.indexOf(":");
  const address = colon < 0 ? s : s.slice(0, colon);
  if (!isIPv4(address)) return `${s}: not an IPv4 address`;
  if (colon < 0) return { address, port: defaultPort };
  const p = s.slice(colon + 1);
  const port = /^[0-9]{1,5}$/.test(p) ? Number(p) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) return `${s}: port ${p} is not from 1 to 65535`;
  return { address, port };
}
