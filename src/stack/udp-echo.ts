/** The UDP echo service (RFC 862): every datagram to port 7 goes back to its sender. */
import type { Udp, UdpSocket } from "./udp.js";

export const UDP_ECHO_PORT = 7;

export function startUdpEcho(udp: Udp, port = UDP_ECHO_PORT): UdpSocket {
  return udp.bind(port, (saddr, sport, buf, off, len, sock) => {
    sock.sendTo(saddr, sport, buf, off, len);
  });
}
