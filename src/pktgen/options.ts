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
  srcIp: number;
  srcPort: number;
  dstIp: number;
  dstPort: number;
  reportMs: number;
  raw: boolean;
  /** rx: stop after a report interval with no traffic. */
  exitOnIdle: boolean;
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
    srcPort: 1234,
    dstIp: 0x0a010001,
    dstPort: 1234,
    reportMs: 1000,
    raw: false,
    exitOnIdle: false,
  };
  let burstSet = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const needsValue = /^-[ifnlbwRSDsdTp]$/.test(flag);
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
        const [ip, port] = v!.split(":");
        const a = parseIpv4(ip);
        if (isParseError(a)) return { error: `${flag}: ${a.error}` };
        const p = port === undefined ? 1234 : Number(port);
        if (!Number.isInteger(p) || p < 1 || p > 65535)
          return { error: `${flag}: expected a port 1..65535, got "${port}"` };
        if (flag === "-s") [o.srcIp, o.srcPort] = [a, p];
        else [o.dstIp, o.dstPort] = [a, p];
        continue;
      }
      case "-N":
        o.raw = true;
        continue;
      case "-W":
        o.exitOnIdle = true;
        continue;
      default:
        return { error: `${flag}: unknown option (supported: -i -f -n -l -b -w -R -S -D -s -d -T -p -N -W)` };
    }
    if (typeof r !== "number") return r;
  }
  if (o.port === "") return { error: "-i: a port is required, e.g. -i vale0:a" };
  if (!burstSet && (o.fn === "ping" || o.fn === "pong")) o.burst = 1;
  return o;
}
