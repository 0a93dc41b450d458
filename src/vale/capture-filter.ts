/**
 * The capture filter `pvnet capture` takes: a small subset of tcpdump's (pcap-filter(7))
 * primitives, joined with `and`:
 *
 *   ether host|src|dst MAC        ip host|src|dst A.B.C.D   (also host A, src host A, ...)
 *   udp|tcp port|src port|dst port N   (also port N: either)
 *   ip | arp | udp | tcp | icmp
 *
 * One 802.1Q tag is looked through, as tcpdump does only when told `vlan`; IPv4 only (an
 * IPv6 frame matches no `ip` primitive). Parsing yields plain data (FilterTerm[]) that
 * crosses to Domain-0 in a message; `FrameFilter` there matches frames against it without
 * allocating.
 */
import { isParseError } from "../wire/layout.js";
import type { Mem } from "../wire/mem.js";
import { parseMac } from "../wire/net/ethernet.js";
import { parseIpv4 } from "../wire/net/ipv4.js";

export type FilterDir = "src" | "dst" | "host";

export type FilterTerm =
  | { readonly k: "ether"; readonly dir: FilterDir; readonly mac: string }
  | { readonly k: "ip"; readonly dir: FilterDir; readonly addr: string }
  | { readonly k: "proto"; readonly proto: "ip" | "arp" | "udp" | "tcp" | "icmp" }
  | {
      readonly k: "port";
      readonly proto: "udp" | "tcp" | "any";
      readonly dir: FilterDir;
      readonly port: number;
    };

/** Longest filter text accepted (a control request's field). */
export const FILTER_MAX = 512;

/** The terms of `text` (empty: every frame), or what is wrong with it. */
export function parseFilter(text: string): FilterTerm[] | string {
  if (text.length > FILTER_MAX) return `filter longer than ${FILTER_MAX} characters`;
  const words = text
    .trim()
    .split(/\s+/)
    .filter((w) => w !== "");
  const terms: FilterTerm[] = [];
  let i = 0;
  const bad = (what: string): string => `filter: ${what} (at "${words.slice(i).join(" ")}")`;
  while (i < words.length) {
    if (terms.length > 0) {
      if (words[i] !== "and" && words[i] !== "&&") return bad("expected 'and' between primitives");
      i++;
      if (i === words.length) return bad("nothing after 'and'");
    }
    const start = i;
    let proto: string | null = null;
    if (["ether", "ip", "udp", "tcp", "arp", "icmp"].includes(words[i]!)) proto = words[i++]!;
    let dir: FilterDir | null = null;
    if (words[i] === "src" || words[i] === "dst") dir = words[i++] as FilterDir;
    let kind: "host" | "port" | null = null;
    if (words[i] === "host" || words[i] === "port") kind = words[i++] as "host" | "port";
    const value = words[i];
    const isKeyword = (w: string | undefined): boolean => w === undefined || w === "and" || w === "&&";
    if (dir === null && kind === null) {
      // A bare protocol.
      if (proto === null || proto === "ether") {
        i = start;
        return bad(proto === null ? "unknown primitive" : "ether needs host, src or dst and a MAC");
      }
      terms.push({ k: "proto", proto: proto as "ip" | "arp" | "udp" | "tcp" | "icmp" });
      continue;
    }
    if (isKeyword(value)) {
      i = start;
      return bad("missing a value");
    }
    i++;
    const d: FilterDir = dir ?? "host";
    if (kind === "port" || ((proto === "udp" || proto === "tcp") && kind === null)) {
      if (proto !== null && proto !== "udp" && proto !== "tcp") {
        i = start;
        return bad(`${proto} has no ports`);
      }
      const port = /^\d{1,5}$/.test(value!) ? Number(value) : -1;
      if (port < 0 || port > 65535) {
        i = start;
        return bad(`port ${value} is not 0-65535`);
      }
      terms.push({ k: "port", proto: (proto ?? "any") as "udp" | "tcp" | "any", dir: d, port });
      continue;
    }
    if (proto === "ether") {
      if (isParseError(parseMac(value!))) {
        i = start;
        return bad(`${value} is not a MAC address`);
      }
      terms.push({ k: "ether", dir: d, mac: value!.toLowerCase() });
      continue;
    }
    if (proto !== null && proto !== "ip") {
      i = start;
      return bad(`${proto} has no host`);
    }
    if (typeof parseIpv4(value!) !== "number") {
      i = start;
      return bad(`${value} is not an IPv4 address`);
    }
    terms.push({ k: "ip", dir: d, addr: value! });
  }
  return terms;
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_VLAN = 0x8100;
const IPPROTO_ICMP = 1;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

const K_ETHER = 0;
const K_IP = 1;
const K_PROTO = 2;
const K_PORT = 3;
/** Directions as bits: src, dst, either. */
const D_SRC = 1;
const D_DST = 2;

/** What a frame's headers say, read once per frame into numbers. */
interface Headers {
  etherType: number;
  ipProto: number;
  ipSrc: number;
  ipDst: number;
  /** -1: no ports (not UDP/TCP, or a later fragment). */
  sport: number;
  dport: number;
}

/** Compiled terms, matched in a loop over typed arrays: no allocation per frame. */
export class FrameFilter {
  readonly #n: number;
  readonly #kind: Uint8Array;
  readonly #dir: Uint8Array;
  /** ether: MAC high 16 bits; ip: address; proto: ethertype or IP protocol; port: port. */
  readonly #a: Float64Array;
  /** ether: MAC low 32 bits; port: IP protocol (0: either); proto: 1 when an IP protocol. */
  readonly #b: Float64Array;
  readonly #h: Headers = { etherType: 0, ipProto: -1, ipSrc: 0, ipDst: 0, sport: -1, dport: -1 };

  constructor(terms: readonly FilterTerm[]) {
    const n = terms.length;
    this.#n = n;
    this.#kind = new Uint8Array(n);
    this.#dir = new Uint8Array(n);
    this.#a = new Float64Array(n);
    this.#b = new Float64Array(n);
    terms.forEach((t, i) => {
      const dir = (d: FilterDir): number => (d === "src" ? D_SRC : d === "dst" ? D_DST : D_SRC | D_DST);
      switch (t.k) {
        case "ether": {
          const mac = parseMac(t.mac) as number;
          this.#kind[i] = K_ETHER;
          this.#dir[i] = dir(t.dir);
          this.#a[i] = Math.floor(mac / 2 ** 32);
          this.#b[i] = mac % 2 ** 32;
          return;
        }
        case "ip":
          this.#kind[i] = K_IP;
          this.#dir[i] = dir(t.dir);
          this.#a[i] = (parseIpv4(t.addr) as number) >>> 0;
          return;
        case "proto":
          this.#kind[i] = K_PROTO;
          if (t.proto === "ip") this.#a[i] = ETHERTYPE_IPV4;
          else if (t.proto === "arp") this.#a[i] = ETHERTYPE_ARP;
          else {
            this.#b[i] = 1;
            this.#a[i] = t.proto === "udp" ? IPPROTO_UDP : t.proto === "tcp" ? IPPROTO_TCP : IPPROTO_ICMP;
          }
          return;
        case "port":
          this.#kind[i] = K_PORT;
          this.#dir[i] = dir(t.dir);
          this.#a[i] = t.port;
          this.#b[i] = t.proto === "udp" ? IPPROTO_UDP : t.proto === "tcp" ? IPPROTO_TCP : 0;
          return;
      }
    });
  }

  /** True when the filter takes every frame (no terms): the caller may skip `match`. */
  get empty(): boolean {
    return this.#n === 0;
  }

  /** Whether the frame whose first `len` bytes (of `total`) are at `off` in `m` matches. */
  match(m: Mem, off: number, len: number): boolean {
    if (this.#n === 0) return true;
    const h = this.#h;
    if (len < 14) return false;
    const u8 = m.u8;
    const dv = m.dv;
    let l3 = off + 14;
    let et = dv.getUint16(off + 12);
    if (et === ETHERTYPE_VLAN && len >= 18) {
      et = dv.getUint16(off + 16);
      l3 += 4;
    }
    h.etherType = et;
    h.ipProto = -1;
    h.sport = -1;
    h.dport = -1;
    const end = off + len;
    if (et === ETHERTYPE_IPV4 && l3 + 20 <= end && u8[l3]! >> 4 === 4) {
      const ihl = (u8[l3]! & 0xf) * 4;
      h.ipProto = u8[l3 + 9]!;
      h.ipSrc = dv.getUint32(l3 + 12);
      h.ipDst = dv.getUint32(l3 + 16);
      const fragOff = dv.getUint16(l3 + 6) & 0x1fff;
      const l4 = l3 + ihl;
      if (
        ihl >= 20 &&
        fragOff === 0 &&
        (h.ipProto === IPPROTO_UDP || h.ipProto === IPPROTO_TCP) &&
        l4 + 4 <= end
      ) {
        h.sport = dv.getUint16(l4);
        h.dport = dv.getUint16(l4 + 2);
      }
    }
    for (let i = 0; i < this.#n; i++) {
      const a = this.#a[i]!;
      const b = this.#b[i]!;
      const d = this.#dir[i]!;
      let ok = false;
      switch (this.#kind[i]) {
        case K_ETHER:
          ok =
            ((d & D_DST) !== 0 && dv.getUint16(off) === a && dv.getUint32(off + 2) === b) ||
            ((d & D_SRC) !== 0 && dv.getUint16(off + 6) === a && dv.getUint32(off + 8) === b);
          break;
        case K_IP:
          ok =
            h.ipProto >= 0 && (((d & D_SRC) !== 0 && h.ipSrc === a) || ((d & D_DST) !== 0 && h.ipDst === a));
          break;
        case K_PROTO:
          ok = b === 1 ? h.ipProto === a : et === a;
          break;
        case K_PORT:
          ok =
            h.sport >= 0 &&
            (b === 0 || h.ipProto === b) &&
            (((d & D_SRC) !== 0 && h.sport === a) || ((d & D_DST) !== 0 && h.dport === a));
          break;
      }
      if (!ok) return false;
    }
    return true;
  }
}

/** Bytes of a frame the filter may read: Ethernet, one VLAN tag, IPv4 with options, ports. */
export const FILTER_HEADER_BYTES = 14 + 4 + 60 + 4;
