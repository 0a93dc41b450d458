/**
 * The guest IP stack: what a pvnet guest runs over its netfront so it can be pinged.
 *
 * Supported:
 * - Ethernet II: frames to our MAC or broadcast; ARP and IPv4 EtherTypes.
 * - ARP (RFC 826) with Linux's neighbour states (REACHABLE, STALE, DELAY, PROBE: an ageing
 *   entry keeps being used while it is re-probed by unicast), requests with retries,
 *   replies, frames for an unresolved destination queued by bytes, gratuitous ARP on
 *   `up()` (netfront sends one when its vif connects), address-conflict counting.
 * - IPv4 (RFC 791/1122): header checksum verified and set, TTL, options tolerated (skipped),
 *   our address, limited and subnet broadcast accepted.
 * - ICMP: echo replies; a ping client with RTT, identifier/sequence matching, timeouts.
 * - UDP (RFC 768): bound sockets, sendTo, a per-socket receive callback; the echo service
 *   (RFC 862, port 7) in udp-echo.ts.
 * - netif's checksum flags: RX_CSUM_BLANK / RX_DATA_VALIDATED skip L4 verification;
 *   with a checksum-offloading device UDP goes out TX_CSUM_BLANK | TX_DATA_VALIDATED.
 *
 * Not supported, by name: TCP; IPv6 (and so NDP, ICMPv6); fragmentation and reassembly
 * (fragments are dropped and counted, larger-than-MTU sends refused); IPv4 options (never
 * interpreted or sent); routing and gateways (every destination is on-link); multicast
 * and IGMP; 802.1Q VLAN tags; DHCP; generating ICMP errors (unreachable, time exceeded);
 * loopback to our own address; GSO/GRO; raw sockets.
 *
 * Datapath: `receive` copies the frame into the stack's private memory before reading a
 * byte (the device may reuse its buffer at once, and a peer still writing it cannot
 * change what was checked), then checks every length against the copy; nothing a frame
 * holds can make it throw, and every refused frame is counted by reason. Frames are built
 * in a TX buffer the device lends when it has that API (netfront's txBuffer/txCommit: no
 * copy in the driver) and nothing waits in the queue, else in one reused transmit slot:
 * echo (ICMP and UDP) allocates nothing per packet either way. A full
 * device ring queues a bounded number of frames, flushed on `onWritable()`; beyond that,
 * drops are counted. Time comes from an injected Clock and Timers (one periodic tick runs
 * ARP expiry and retries and ping deadlines), so tests are deterministic.
 *
 * Re-entrancy: the device must not call `receive` or `onWritable` from inside `transmit`.
 */
import type { Clock } from "../base/clock.js";
import { systemClock } from "../base/clock.js";
import type { Counters } from "../base/counters.js";
import { PvnetError } from "../base/errors.js";
import { NodeTimers, type TimerId, type Timers } from "../hv/timer.js";
import { formatIpv4 } from "../wire/net/ipv4.js";
import { Arp, type ArpEntry, type ArpOptions, isMartian, type NeighbourState } from "./arp.js";
import { SC, type StackCounterName, stackCounters } from "./counters.js";
import { type NetDevice, RX_CSUM_BLANK, RX_DATA_VALIDATED } from "./device.js";
import { EthernetIn, macBytes } from "./ethernet.js";
import { Icmp } from "./icmp.js";
import { Ipv4 } from "./ipv4.js";
import { ALL_HOSTS_GROUP, groupMac, isMulticast, McastGroups } from "./mcast-groups.js";
import { Pinger, type PingOptions, type PingResult } from "./ping.js";
import { FrameSlots, SLOT_FIRST_FREE, SLOT_RX } from "./slots.js";
import { TxFrame } from "./tx-frame.js";
import { TxQueue } from "./txqueue.js";
import { Udp, type UdpHandler, type UdpSocket } from "./udp.js";
import { startUdpEcho, UDP_ECHO_PORT } from "./udp-echo.js";

export interface StackOptions {
  /** Our IPv4 address as a u32. */
  ip: number;
  /** Default 24: decides our subnet's broadcast address. */
  prefixLen?: number;
  /** Default 64 (Linux's ip_default_ttl). */
  ttl?: number;
  clock?: Clock;
  /** Default NodeTimers, whose tick keeps Node's loop alive until down(). */
  timers?: Timers;
  /** Period of the ARP/ping tick; default 100. */
  tickMs?: number;
  /** Frames held while the device ring is full; default 32. */
  txQueueLen?: number;
  /**
   * Defaults are Linux's: 32 entries, reachable 30 s, delay 5 s, retry 1 s, 3 broadcast
   * requests, 3 unicast probes, locktime 1 s, 64 KiB of waiting frames per destination.
   */
  arp?: Partial<ArpOptions>;
  /** Bytes of frames waiting for ARP, all destinations together; default 128 KiB. */
  arpPendingBytes?: number;
  /** The ping identifier; default the low 16 bits of the MAC. */
  pingId?: number;
  /** Counter storage, e.g. a SharedArrayBuffer another thread reads. */
  counters?: SharedArrayBuffer;
}

const ARP_DEFAULTS: ArpOptions = {
  cacheSize: 32,
  reachableMs: 30_000,
  delayMs: 5000,
  retryMs: 1000,
  retries: 3,
  unicastProbes: 3,
  locktimeMs: 1000,
  queueBytes: 64 * 1024,
};

function invalid(field: string, value: unknown, expected: string): PvnetError {
  return new PvnetError("EINVAL", `Cannot create stack: ${field} ${String(value)} (expected ${expected})`);
}

function checkInt(field: string, v: number, lo: number, hi: number): number {
  if (!(Number.isInteger(v) && v >= lo && v <= hi)) throw invalid(field, v, `an integer ${lo}..${hi}`);
  return v;
}

export class NetStack {
  readonly counters: Counters<StackCounterName>;
  readonly ip: number;
  readonly mac: number;
  readonly udp: Udp;
  readonly #c: Float64Array;
  readonly #slots: FrameSlots;
  readonly #txq: TxQueue;
  readonly #arp: Arp;
  readonly #eth: EthernetIn;
  readonly #groups = new McastGroups();
  readonly #dev: NetDevice;
  readonly #pinger: Pinger;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #tickMs: number;
  #tickTimer: TimerId | undefined;
  #up = false;

  constructor(dev: NetDevice, opts: StackOptions) {
    const ip = checkInt("ip", opts.ip, 0, 0xffffffff);
    if (ip === 0 || isMartian(ip)) throw invalid("ip", formatIpv4(ip), "a unicast address");
    checkInt("mtu", dev.mtu, 68, 0xffff - 14);
    const prefixLen = checkInt("prefixLen", opts.prefixLen ?? 24, 0, 32);
    const ttl = checkInt("ttl", opts.ttl ?? 64, 1, 255);
    const txQueueLen = checkInt("txQueueLen", opts.txQueueLen ?? 32, 0, 4096);
    const pendBytes = checkInt("arpPendingBytes", opts.arpPendingBytes ?? 128 * 1024, 0, 64 << 20);
    const arpOpts = { ...ARP_DEFAULTS, ...opts.arp };
    checkInt("arp.cacheSize", arpOpts.cacheSize, 1, 4096);
    checkInt("arp.retries", arpOpts.retries, 1, 255);
    checkInt("arp.unicastProbes", arpOpts.unicastProbes, 1, 255);
    checkInt("arp.queueBytes", arpOpts.queueBytes, 0, 64 << 20);
    for (const k of ["reachableMs", "delayMs", "retryMs", "locktimeMs"] as const)
      checkInt(`arp.${k}`, arpOpts[k], 0, 86_400_000);
    this.#tickMs = checkInt("tickMs", opts.tickMs ?? 100, 1, 60_000);
    this.ip = ip;
    this.mac = dev.mac;
    this.#clock = opts.clock ?? systemClock;
    this.#timers = opts.timers ?? new NodeTimers();
    this.counters = stackCounters(opts.counters);
    const c = this.counters.f64;
    this.#c = c;
    const slots = new FrameSlots(dev.mtu, SLOT_FIRST_FREE + txQueueLen);
    this.#slots = slots;
    const mem = slots.mem;
    const mac = macBytes(dev.mac);
    this.#txq = new TxQueue(dev, slots, c, SLOT_FIRST_FREE, txQueueLen);
    const tx = new TxFrame(dev, slots, this.#txq, c);
    this.#arp = new Arp(mem, slots, this.#txq, tx, c, this.#clock, mac, ip, arpOpts, pendBytes);
    const ipv4 = new Ipv4(mem, slots, this.#arp, tx, c, mac, ip, prefixLen, ttl);
    this.#pinger = new Pinger(mem, ipv4, this.#clock, c, opts.pingId ?? dev.mac % 0x10000);
    ipv4.icmp = new Icmp(mem, ipv4, c, this.#pinger);
    this.udp = new Udp(mem, slots, ipv4, c, ip, dev);
    ipv4.udp = this.udp;
    ipv4.groups = this.#groups;
    this.#eth = new EthernetIn(mem.u8, mac, c, this.#arp, ipv4, this.#groups);
    this.#dev = dev;
  }

  /**
   * Joins the IPv4 multicast group `group` (u32, 224.0.0.0/4): datagrams to it are received
   * (bindUdp on their port) and the device is told, so a filtering backend passes them.
   * At most MCAST_GROUPS_MAX groups; 224.0.0.1 is always joined.
   */
  joinGroup(group: number): void {
    const g = checkInt("group", group, 0, 0xffffffff);
    if (!isMulticast(g)) throw invalid("group", formatIpv4(g), "a multicast address (224.0.0.0/4)");
    if (g === ALL_HOSTS_GROUP >>> 0) return;
    if (this.#groups.join(g)) this.#dev.joinMulticast?.(groupMac(g));
  }

  leaveGroup(group: number): void {
    const g = checkInt("group", group, 0, 0xffffffff);
    if (!this.#groups.leave(g)) return;
    const mac = groupMac(g);
    // Groups sharing the MAC's 23 bits share its filter entry: keep it while one is joined.
    if (!this.#groups.list().some((o) => groupMac(o) === mac)) this.#dev.leaveMulticast?.(mac);
  }

  /** Joined groups (u32), all-hosts not listed. */
  get groups(): number[] {
    return this.#groups.list();
  }

  get isUp(): boolean {
    return this.#up;
  }

  /** Starts the tick and announces our address with a gratuitous ARP. */
  up(): void {
    if (this.#up) return;
    this.#up = true;
    this.#tickTimer = this.#timers.every(this.#tickMs, () => this.tick());
    this.#arp.announce();
  }

  /** Stops the tick; queued and ARP-pending frames are dropped (txDropDown), pings fail. */
  down(): void {
    if (!this.#up) return;
    this.#up = false;
    if (this.#tickTimer !== undefined) this.#timers.cancel(this.#tickTimer);
    this.#tickTimer = undefined;
    this.#txq.clear(SC.txDropDown);
    this.#arp.clear(SC.txDropDown);
    this.#pinger.cancelAll("down");
  }

  /**
   * The driver's entry: the `len`-byte frame at `frame[off]` with its NETRXF_* flags. The
   * bytes are copied before anything reads them; `frame` is free again on return.
   */
  receive(frame: Uint8Array, off: number, len: number, flags: number): void {
    const c = this.#c;
    c[SC.rxFrames]++;
    if (!this.#up) {
      c[SC.rxDropDown]++;
      return;
    }
    if (!(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0)) {
      c[SC.rxDropMalformed]++;
      return;
    }
    if (off + len > frame.length || len > this.#slots.frameMax) {
      c[SC.rxDropMalformed]++;
      return;
    }
    c[SC.rxBytes] += len;
    const at = this.#slots.off(SLOT_RX);
    this.#copyIn(at, frame, off, len);
    this.#eth.receive(at, len, flags & (RX_CSUM_BLANK | RX_DATA_VALIDATED));
  }

  /** The device ring has room again: queued frames go out in order. */
  onWritable(): void {
    this.#txq.flush();
  }

  /** ARP expiry and retries, ping deadlines; the stack's timer calls it every tickMs. */
  tick(): void {
    const now = this.#clock.nowMs();
    this.#arp.tick(now);
    this.#pinger.tick(now);
  }

  /** One echo request to `daddr` (u32). */
  ping(daddr: number, opts?: PingOptions): Promise<PingResult> {
    if (!this.#up) return Promise.resolve({ ok: false, seq: -1, reason: "ENETDOWN" });
    return this.#pinger.ping(daddr, opts);
  }

  bindUdp(port: number, handler: UdpHandler): UdpSocket {
    return this.udp.bind(port, handler);
  }

  startUdpEcho(port = UDP_ECHO_PORT): UdpSocket {
    return startUdpEcho(this.udp, port);
  }

  /** The MAC cached for `ip` (u32), if resolved. */
  arpLookup(ip: number): number | undefined {
    return this.#arp.lookup(ip);
  }

  /**
   * Asks for `ip` (u32) unless its MAC is known or already being asked for, as a frame to
   * it would, and returns its neighbour state (null: no cache entry to spare).
   */
  arpSolicit(ip: number): NeighbourState | null {
    return this.#arp.solicit(ip);
  }

  arpEntries(): ArpEntry[] {
    return this.#arp.entries();
  }

  /** Frames waiting for ARP resolution. */
  get arpPending(): number {
    return this.#arp.pending;
  }

  /** Frames waiting for room in the device ring. */
  get txQueued(): number {
    return this.#txq.queued;
  }

  /**
   * A byte loop straight from the caller's view: no view of the caller's buffer is ever
   * made, so frames from any number of buffers allocate nothing (about 1 ns a byte here).
   */
  #copyIn(at: number, frame: Uint8Array, off: number, len: number): void {
    const dst = this.#slots.mem.u8;
    for (let i = 0; i < len; i++) dst[at + i] = frame[off + i];
  }
}
