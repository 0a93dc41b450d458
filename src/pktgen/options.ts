/**
 * pkt-gen's options, as netmap's pkt-gen reads them (getopt style: `-f tx -l 60`). One
 * instance's arguments; `pvnet pkt-gen` runs several instances in one host, separated by
 * `++`, because pvnet's switches live in one process (docs/netmap-threads.md).
 */

import { isParseError } from "../wire/layout.js";
import { parseMac } from "../wire/net/ethernet.js";
import { parseIpv4 } from "../wire/net/ipv4.js";

export type PktGenFn = "tx" | "rx" | "txseq" | "rxseq" | "ping" | "pong";

export interface PktGenOptions {
  port: string;
  fn: PktGenFn;
  /** Packets (tx/rx) or transactions (ping/pong); 0 = until stopped. */
  count: number;
  len: number;
  burst: number;
  /** Seconds to wait before starting. */
  wait: number;
  /** Packets per second; 0 = as fast as possible. */
  rate: number;
  srcMac: number;
  dstMac: number;
  /** -s/-d ranges: first and last address and port, inclusive (equal: no range). */
  srcIp: number;
  srcIpEnd: number;
  srcPort: number;
  srcPortEnd: number;
  dstIp: number;
  dstIpEnd: number;
  dstPort: number;
  dstPortEnd: number;
  reportMs: number;
  raw: boolean;
  /** rx: stop after a report interval with no traffic. */
  exitOnIdle: boolean;
  /** -X: hexdump every packet sent or received. */
  dump: boolean;
  /** -v, once per -v. */
  verbose: number;
  /** -P: replay the frames of this pcap file instead of building one. */
  pcap: string | null;
}

const FNS: readonly PktGenFn[] = ["tx", "rx", "txseq", "rxseq", "ping", "pong"];

export function parsePktGenArgs(argv: readonly string[]): PktGenOptions | { error: string } {
  const o: PktGenOptions = {
    port: "",
    fn: "rx",
    count: 0,
    len: 60,
    burst: 512,
    wait: 0,
    rate: 0,
    srcMac: 0x020000000001,
    dstMac: 0xffffffffffff,
    srcIp: 0x0a000001,
    srcIpEnd: 0x0a000001,
    srcPort: 1234,
    srcPortEnd: 1234,
    dstIp: 0x0a010001,
    dstIpEnd: 0x0a010001,
    dstPort: 1234,
    dstPortEnd: 1234,
    reportMs: 1000,
    raw: false,
    exitOnIdle: false,
    dump: false,
    verbose: 0,
    pcap: null,
  };
  let burstSet = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const needsValue = /^-[ifnlbwRSDsdTpP]$/.test(flag);
    const v = needsValue ? argv[++i] : undefined;
    if (needsValue && v === undefined) return { error: `${flag}: expected a value` };
    const int = (min: number, max: number): number | { error: string } => {
      const n = Number(v);
      return Number.isInteger(n) && n >= min && n <= max
        ? n
        : { error: `${flag}: expected an integer from ${min} to ${max}, got "${v}"` };
    };
    let r: number | { error: string } = 0;
    switch (flag) {
      case "-i":
        o.port = v!.includes(":") ? v! : `netmap:${v}`;
        continue;
      case "-f":
        if (!FNS.includes(v as PktGenFn))
          return { error: `-f: expected one of ${FNS.join(", ")}, got "${v}"` };
        o.fn = v as PktGenFn;
        continue;
      case "-n":
        r = int(0, Number.MAX_SAFE_INTEGER);
        if (typeof r === "number") o.count = r;
        break;
      case "-l":
        r = int(60, 2048);
        if (typeof r === "number") o.len = r;
        break;
      case "-b":
        r = int(1, 1024);
        if (typeof r === "number") {
          o.burst = r;
          burstSet = true;
        }
        break;
      case "-w":
        r = int(0, 3600);
        if (typeof r === "number") o.wait = r;
        break;
      case "-R":
        r = int(0, 1e9);
        if (typeof r === "number") o.rate = r;
        break;
      case "-T":
        r = int(10, 3_600_000);
        if (typeof r === "number") o.reportMs = r;
        break;
      case "-p":
        // pkt-gen binds thread i to ring pair i; pvnet's VALE ports and pipes have one.
        r = int(1, 64);
        if (typeof r === "number" && r > 1)
          return { error: `-p ${r}: one thread per ring pair, and pvnet's VALE ports and pipes have 1` };
        break;
      case "-S":
      case "-D": {
        const mac = parseMac(v!);
        if (isParseError(mac)) return { error: `${flag}: ${mac.error}` };
        if (flag === "-S") o.srcMac = mac;
        else o.dstMac = mac;
        continue;
      }
      case "-s":
      case "-d": {
        const r = parseAddrRange(v!);
        if ("error" in r) return { error: `${flag}: ${r.error}` };
        if (flag === "-s") [o.srcIp, o.srcIpEnd, o.srcPort, o.srcPortEnd] = [r.ip0, r.ip1, r.port0, r.port1];
        else [o.dstIp, o.dstIpEnd, o.dstPort, o.dstPortEnd] = [r.ip0, r.ip1, r.port0, r.port1];
        continue;
      }
      case "-P":
        if (v === "") return { error: "-P: expected a pcap file" };
        o.pcap = v!;
        continue;
      case "-X":
        o.dump = true;
        continue;
      case "-v":
        o.verbose++;
        continue;
      case "-N":
        o.raw = true;
        continue;
      case "-W":
        o.exitOnIdle = true;
        continue;
      default:
        return {
          error: `${flag}: unknown option (expected one of -i -f -n -l -b -w -R -S -D -s -d -T -p -N -W -X -P -v; see pvnet pkt-gen --help)`,
        };
    }
    if (typeof r !== "number") return r;
  }
  if (o.port === "") return { error: "-i: a port is required, e.g. -i vale0:a" };
  if (!burstSet && (o.fn === "ping" || o.fn === "pong")) o.burst = 1;
  // As netmap's pkt-gen: at a set rate a burst is at most 1/300 s worth of packets, so a
  // slow rate goes out a few packets at a time, evenly, not in clumps of the full burst.
  if (o.rate > 0) o.burst = Math.max(1, Math.min(o.burst, Math.floor(o.rate / 300)));
  return o;
}

export interface AddrRange {
  ip0: number;
  ip1: number;
  port0: number;
  port1: number;
}

/**
 * `IP[-IP][:PORT[-PORT]]` as netmap's pkt-gen takes it for -s and -d: a range of
 * addresses and of ports, inclusive; a single address or port is a range of one.
 */
export function parseAddrRange(v: string): AddrRange | { error: string } {
  const colon = v.indexOf(":");
  const ips = (colon < 0 ? v : v.slice(0, colon)).split("-");
  const ports = colon < 0 ? ["1234"] : v.slice(colon + 1).split("-");
  if (ips.length > 2 || ports.length > 2) return { error: `expected IP[-IP][:PORT[-PORT]], got "${v}"` };
  const a: number[] = [];
  for (const ip of ips) {
    const x = parseIpv4(ip);
    if (isParseError(x)) return { error: x.error };
    a.push(x);
  }
  const p: number[] = [];
  for (const port of ports) {
    const n = Number(port);
    if (port === "" || !Number.isInteger(n) || n < 1 || n > 65535)
      return { error: `expected a port 1..65535, got "${port}"` };
    p.push(n);
  }
  const [ip0, ip1 = ip0] = a as [number, number?];
  const [port0, port1 = port0] = p as [number, number?];
  if (ip1 < ip0) return { error: `the range ${ips.join("-")} ends before it starts` };
  if (port1 < port0) return { error: `the port range ${ports.join("-")} ends before it starts` };
  return { ip0, ip1, port0, port1 };
}
