/**
 * UDP (RFC 768): sockets bound to a port, datagrams in through a callback, sendTo out.
 *
 * In: length field at least 8 and inside the IPv4 payload (bytes after it are ignored);
 * the checksum verified unless the frame came flagged RX_CSUM_BLANK or RX_DATA_VALIDATED,
 * or is 0 (the sender computed none). A datagram to an unbound port is counted
 * (rxDropNoPort); no ICMP port unreachable is sent.
 * Out: when the device offloads checksums, the checksum field carries the pseudo-header
 * sum and the frame goes out flagged TX_CSUM_BLANK | TX_DATA_VALIDATED, as Linux's
 * netfront sends a CHECKSUM_PARTIAL skb; otherwise the checksum is filled.
 */
import { PvnetError } from "../base/errors.js";
import type { Mem } from "../wire/mem.js";
import { ipv4PseudoHeaderSum, onesSum } from "../wire/net/checksum.js";
import { IPPROTO_UDP, IPV4_SADDR } from "../wire/net/ipv4.js";
import {
  setUdpCheck,
  setUdpDest,
  setUdpLen,
  setUdpSource,
  UDP_HLEN,
  UDP_SOURCE,
  udpChecksumValid,
  udpDest,
  udpLen,
} from "../wire/net/udp.js";
import { copyAcross } from "./copy.js";
import { SC } from "./counters.js";
import { RX_CSUM_BLANK, RX_DATA_VALIDATED, TX_CSUM_BLANK, TX_DATA_VALIDATED } from "./device.js";
import type { Ipv4, L4Receiver } from "./ipv4.js";
import { SEND_EMSGSIZE, SEND_OK } from "./send-status.js";
import { type FrameSlots, SLOT_RX } from "./slots.js";

/**
 * A datagram for a bound socket: `len` bytes at `buf[off]`, from `saddr` (u32) port
 * `sport`. `buf` is the stack's receive slot: valid only until the handler returns.
 * Handlers must not throw: they run inside the driver's receive path.
 */
export type UdpHandler = (
  saddr: number,
  sport: number,
  buf: Uint8Array,
  off: number,
  len: number,
  sock: UdpSocket,
) => void;

/** First port handed out by bind(0), IANA's dynamic range. */
export const UDP_EPHEMERAL_FIRST = 49152;

export class UdpSocket {
  readonly port: number;
  readonly handler: UdpHandler;
  readonly #udp: Udp;
  #open = true;

  constructor(udp: Udp, port: number, handler: UdpHandler) {
    this.#udp = udp;
    this.port = port;
    this.handler = handler;
  }

  /**
   * Sends `len` bytes of `data` from `off` to `daddr` (u32) port `dport`. Returns 0 (sent,
   * queued or waiting for ARP) or a negative errno (see send-status.ts).
   */
  sendTo(daddr: number, dport: number, data: Uint8Array, off = 0, len = data.length - off): number {
    // Not assert(cond, `message`): the template would be built, allocating, on every send.
    if (!this.#open) throw new PvnetError("EBADF", `Cannot send on UDP port ${this.port}: socket closed`);
    return this.#udp.send(this.port, daddr, dport, data, off, len);
  }

  close(): void {
    if (this.#open) this.#udp.unbind(this);
    this.#open = false;
  }
}

export class Udp implements L4Receiver {
  readonly #mem: Mem;
  readonly #slots: FrameSlots;
  readonly #ipv4: Ipv4;
  readonly #c: Float64Array;
  // Read per datagram: a device learns its peer's features when its queues connect, after the stack is built.
  readonly #dev: { readonly offloadsChecksum: boolean };
  readonly #ip: number;
  readonly #sockets = new Map<number, UdpSocket>();
  #nextEphemeral = UDP_EPHEMERAL_FIRST;

  constructor(
    mem: Mem,
    slots: FrameSlots,
    ipv4: Ipv4,
    counters: Float64Array,
    ip: number,
    dev: { readonly offloadsChecksum: boolean },
  ) {
    this.#mem = mem;
    this.#slots = slots;
    this.#ipv4 = ipv4;
    this.#c = counters;
    this.#ip = ip | 0;
    this.#dev = dev;
  }

  /** Binds `port` (0: the next free ephemeral port); a port in use is EADDRINUSE. */
  bind(port: number, handler: UdpHandler): UdpSocket {
    if (!(Number.isInteger(port) && port >= 0 && port <= 0xffff)) {
      throw new PvnetError("EINVAL", `Cannot bind UDP port ${port}: expected 0..65535`);
    }
    const p = port === 0 ? this.#ephemeral() : port;
    if (this.#sockets.has(p)) throw new PvnetError("EADDRINUSE", `Cannot bind UDP port ${p}: in use`);
    const sock = new UdpSocket(this, p, handler);
    this.#sockets.set(p, sock);
    return sock;
  }

  unbind(sock: UdpSocket): void {
    if (this.#sockets.get(sock.port) === sock) this.#sockets.delete(sock.port);
  }

  receive(ipAt: number, l4At: number, l4Len: number, flags: number, _toUs: boolean): void {
    const m = this.#mem;
    const c = this.#c;
    const len = l4Len >= UDP_HLEN ? udpLen(m, l4At) : 0;
    if (len < UDP_HLEN || len > l4Len) {
      c[SC.rxDropMalformed]++;
      return;
    }
    if ((flags & (RX_CSUM_BLANK | RX_DATA_VALIDATED)) === 0 && !udpChecksumValid(m, l4At, ipAt)) {
      c[SC.rxDropBadChecksum]++;
      return;
    }
    const sock = this.#sockets.get(udpDest(m, l4At));
    if (sock === undefined) {
      c[SC.rxDropNoPort]++;
      return;
    }
    c[SC.udpDatagramsReceived]++;
    const sport = m.dv.getUint16(l4At + UDP_SOURCE);
    const off = l4At + UDP_HLEN - this.#slots.off(SLOT_RX);
    sock.handler(
      m.dv.getUint32(ipAt + IPV4_SADDR),
      sport,
      this.#slots.view(SLOT_RX),
      off,
      len - UDP_HLEN,
      sock,
    );
  }

  send(sport: number, daddr: number, dport: number, data: Uint8Array, off: number, len: number): number {
    if (
      !(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= data.length)
    ) {
      throw new PvnetError(
        "EINVAL",
        `Cannot send bytes ${off}..${off + len}: outside the ${data.length}-byte buffer`,
      );
    }
    if (UDP_HLEN + len > this.#ipv4.l4Max) return SEND_EMSGSIZE;
    const at = this.#ipv4.beginL4(UDP_HLEN + len);
    const m = this.#ipv4.txMem;
    this.#copyIn(m, at + UDP_HLEN, data, off, len);
    setUdpSource(m, at, sport);
    setUdpDest(m, at, dport);
    setUdpLen(m, at, UDP_HLEN + len);
    // Addresses as int32: the pseudo-header sum splits them into halves all the same.
    const sum = ipv4PseudoHeaderSum(this.#ip, daddr | 0, IPPROTO_UDP, UDP_HLEN + len);
    let flags = 0;
    if (this.#dev.offloadsChecksum) {
      // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not complemented.
      setUdpCheck(m, at, sum);
      flags = TX_CSUM_BLANK | TX_DATA_VALIDATED;
    } else {
      setUdpCheck(m, at, 0);
      const check = ~onesSum(m.u8, at, at + UDP_HLEN + len, sum) & 0xffff;
      setUdpCheck(m, at, check === 0 ? 0xffff : check);
    }
    const status = this.#ipv4.output(daddr, IPPROTO_UDP, UDP_HLEN + len, flags);
    if (status === SEND_OK) this.#c[SC.udpDatagramsSent]++;
    return status;
  }

  /**
   * Copies the payload into the frame at `to` in `m` without allocating: from the stack's own
   * memory (an echo) or the frame's (a lent buffer) by word or copyWithin, else a byte loop.
   */
  #copyIn(m: Mem, to: number, data: Uint8Array, off: number, len: number): void {
    const u8 = m.u8;
    if (data.buffer === this.#mem.buffer) {
      copyAcross(m, to, this.#mem, data.byteOffset + off, len);
    } else if (data.buffer === u8.buffer) {
      const from = data.byteOffset + off;
      u8.copyWithin(to, from, from + len);
    } else if (off === 0 && len === data.length) {
      u8.set(data, to);
    } else {
      for (let i = 0; i < len; i++) u8[to + i] = data[off + i];
    }
  }

  #ephemeral(): number {
    for (let n = 0; n < 0x10000 - UDP_EPHEMERAL_FIRST; n++) {
      const p = this.#nextEphemeral;
      this.#nextEphemeral = p === 0xffff ? UDP_EPHEMERAL_FIRST : p + 1;
      if (!this.#sockets.has(p)) return p;
    }
    throw new PvnetError("EADDRINUSE", "Cannot bind UDP port 0: every ephemeral port is in use");
  }
}
