/**
 * The rules a schema cannot state, checked on data the schema already passed (so every
 * type and default is in place), and the building of the typed HostConfig.
 */

import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { hostCpuCount, parseCpuList } from "../hv/cpus.js";
import type { LoopMode } from "../hv/loop.js";
import { PT_DEFAULT_SLOTS, ptAreaPages } from "../netmap/pt-layout.js";
import { parseRemote, type VxlanUplinkConfig } from "../uplink/vxlan/config.js";
import { fieldName as fmt, type KeyPath } from "./config-locate.js";
import { parseRateConfig } from "./config-rate.js";
import { MAX_MEMORY_MIB } from "./config-schema.js";
import { isTapEntry } from "./config-tap.js";
import type {
  BridgeConfig,
  DomainConfig,
  HostConfig,
  Ipv4Cidr,
  UplinkConfig,
  VifConfig,
} from "./config-types.js";

export const DOM0_NAME = "Domain-0";
const PAGES_PER_MIB = 256;

export interface RuleIssue {
  readonly path: KeyPath;
  readonly problem: string;
  readonly expected: string;
}

/** The data's shape once the schema (with defaults) accepted it. */
interface RawFeatures {
  sg: boolean;
  "gso-tcpv4": boolean;
  "gso-tcpv6": boolean;
  "csum-offload": boolean;
  "ipv6-csum-offload": boolean;
  "split-event-channels": boolean;
  "rx-notify": boolean;
  "multicast-control": boolean;
}
interface RawVif {
  mac?: string;
  "xdp-headroom": number;
  "rx-mode": "copy" | "flip";
  rate?: string;
  ip?: string;
  bridge: string;
  queues: number;
  "ring-page-order": number;
  trusted: boolean;
  "staging-grants": boolean;
  passthrough: boolean;
  "passthrough-slots"?: number;
  features: RawFeatures;
  script?: string;
}
interface RawDomain {
  name: string;
  memory: number | string;
  vifs: RawVif[];
  loop?: LoopMode;
  cpus?: string | number;
}
interface RawBridge {
  uplinks?: (UplinkConfig | { tap: { name: string; fd?: number } })[];
  capture?: { file: string; format: "pcap" | "pcapng"; count?: number };
}
export interface RawHost {
  domains: RawDomain[];
  bridges: Record<string, RawBridge | null>;
}

function memoryMiB(m: number | string): number {
  if (typeof m === "number") return m;
  const n = Number(m.slice(0, -1));
  return m.endsWith("G") ? n * 1024 : n;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/**
 * A vif without `mac` gets one in Xen's OUI built from its domid and devid, so the same
 * file always gives the same MACs (xl picks random ones; tests and captures prefer these).
 */
export function derivedMac(domid: number, devid: number): string {
  return `00:16:3e:${hex2(domid >> 8)}:${hex2(domid & 0xff)}:${hex2(devid)}`;
}

function parseCidr(s: string): Ipv4Cidr {
  const [addr, len] = s.split("/");
  const value = addr.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const prefix = Number(len);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (value & mask) >>> 0;
  const network = [24, 16, 8, 0].map((sh) => (net >>> sh) & 0xff).join(".");
  return { address: addr, prefix, value, network };
}

interface BridgeUse {
  subnet: Ipv4Cidr;
  subnetAt: KeyPath;
  addresses: Map<number, KeyPath>;
}

/** Checks the cross-field rules and, when none is broken, builds the frozen HostConfig. */
export function checkRules(raw: RawHost): { issues: RuleIssue[]; config: HostConfig | undefined } {
  const issues: RuleIssue[] = [];
  const bad = (path: KeyPath, problem: string, expected: string): void => {
    issues.push({ path, problem, expected });
  };

  const bridgeNames = Object.keys(raw.bridges);
  const names = new Map<string, number>();
  const macs = new Map<string, KeyPath>();
  const uses = new Map<string, BridgeUse>();
  const domains: DomainConfig[] = [];

  raw.domains.forEach((d, domid) => {
    const at: KeyPath = ["domains", domid];
    const seen = names.get(d.name);
    if (domid === 0 && d.name !== DOM0_NAME)
      bad(
        [...at, "name"],
        `the first domain is ${JSON.stringify(d.name)}`,
        `${DOM0_NAME}, the driver domain`,
      );
    else if (domid !== 0 && d.name === DOM0_NAME)
      bad([...at, "name"], `${DOM0_NAME} is not the first domain`, `${DOM0_NAME} first: it is domid 0`);
    else if (seen !== undefined)
      bad(
        [...at, "name"],
        `${JSON.stringify(d.name)} is already the name of domains[${seen}]`,
        "a unique name",
      );
    else names.set(d.name, domid);
    const mib = memoryMiB(d.memory);
    if (mib > MAX_MEMORY_MIB) bad([...at, "memory"], `${d.memory} is too much`, `at most ${MAX_MEMORY_MIB}M`);
    let cpus: number[] | undefined;
    if (d.cpus !== undefined) {
      const r = parseCpuList(String(d.cpus), hostCpuCount());
      if (typeof r === "string")
        bad([...at, "cpus"], r, 'CPUs of this host, as xl\'s cpus= ("1-3", "0,2", "^0")');
      else cpus = r;
    }
    if (domid === 0 && d.loop === "block")
      bad(
        [...at, "loop"],
        `${DOM0_NAME} cannot block`,
        "notify, hybrid, adaptive or poll: Domain-0 serves sockets and timers besides its event channels",
      );
    if (domid === 0 && d.vifs.length > 0)
      bad(
        [...at, "vifs"],
        `${DOM0_NAME} has vifs`,
        "none: Domain-0 runs the backends of the guests' vifs, it has no frontends",
      );

    // Pages the passthrough vifs' areas take so far: together they must fit the memory.
    let ptPages = 0;
    const vifs: VifConfig[] = d.vifs.map((v, devid) => {
      const vat: KeyPath = [...at, "vifs", devid];
      const mac = (v.mac ?? derivedMac(domid, devid)).toLowerCase();
      const first = Number.parseInt(mac.slice(0, 2), 16);
      if ((first & 1) !== 0)
        bad([...vat, "mac"], `${mac} is a multicast address`, "a unicast MAC: first octet even");
      else if (mac === "00:00:00:00:00:00")
        bad([...vat, "mac"], `${mac} is the null address`, "a unicast MAC");
      const other = macs.get(mac);
      if (other !== undefined)
        bad([...vat, "mac"], `${mac} is already used by ${fmt(other)}`, "a unique MAC");
      else macs.set(mac, vat);

      if (!bridgeNames.includes(v.bridge))
        bad(
          [...vat, "bridge"],
          `no bridge named ${JSON.stringify(v.bridge)}`,
          bridgeNames.length > 0 ? `one of: ${bridgeNames.join(", ")}` : "a bridge defined under bridges",
        );

      if (v.passthrough && v.queues !== 1)
        bad([...vat, "queues"], `${v.queues} with passthrough: true`, "1 (a passthrough vif has one queue)");
      // These act on the netif datapath, which a passthrough vif negotiates but leaves idle.
      if (v.passthrough) {
        const notWith = (key: string, what: string): void =>
          bad(
            [...vat, key],
            `${what} with passthrough: true`,
            `no ${key}: frames cross a passthrough vif by VALE's rings`,
          );
        if (v.rate !== undefined) notWith("rate", JSON.stringify(v.rate));
        if (v["xdp-headroom"] !== 0) notWith("xdp-headroom", String(v["xdp-headroom"]));
        if (v["rx-mode"] === "flip") notWith("rx-mode", "flip");
        ptPages += ptAreaPages(v["passthrough-slots"] ?? PT_DEFAULT_SLOTS);
        if (ptPages > mib * PAGES_PER_MIB)
          bad(
            [...vat, v["passthrough-slots"] === undefined ? "passthrough" : "passthrough-slots"],
            `${v["passthrough-slots"] ?? PT_DEFAULT_SLOTS} slots: the domain's passthrough areas need ${(ptPages / PAGES_PER_MIB).toFixed(1)} MiB of its ${mib} MiB`,
            "fewer passthrough-slots, or more memory",
          );
      } else if (v["passthrough-slots"] !== undefined)
        bad(
          [...vat, "passthrough-slots"],
          `${v["passthrough-slots"]} without passthrough: true`,
          "passthrough: true, or no passthrough-slots",
        );

      let ip: Ipv4Cidr | undefined;
      if (v.ip !== undefined) {
        ip = parseCidr(v.ip);
        checkAddress(ip, [...vat, "ip"], v.bridge, uses, bad);
      }
      let rate: string | undefined;
      if (v.rate !== undefined) {
        const r = parseRateConfig(v.rate);
        if (r.ok) rate = r.key;
        else
          bad(
            [...vat, "rate"],
            `${JSON.stringify(v.rate)} ${r.problem}`,
            'a rate like "10Mbit/s", "1MB/s@20ms" or "<bytes>,<usecs>"',
          );
      }
      const f = v.features;
      return {
        devid,
        mac,
        ip,
        bridge: v.bridge,
        queues: v.queues,
        ringPageOrder: v["ring-page-order"],
        ...(rate === undefined ? {} : { rate }),
        ...(v["xdp-headroom"] === 0 ? {} : { xdpHeadroom: v["xdp-headroom"] }),
        ...(v["rx-mode"] === "flip" ? { rxMode: "flip" as const } : {}),
        trusted: v.trusted,
        stagingGrants: v["staging-grants"],
        ...(v.passthrough ? { passthrough: true } : {}),
        ...(v.passthrough && v["passthrough-slots"] !== undefined
          ? { passthroughSlots: v["passthrough-slots"] }
          : {}),
        features: {
          sg: f.sg,
          gsoTcpv4: f["gso-tcpv4"],
          gsoTcpv6: f["gso-tcpv6"],
          csumOffload: f["csum-offload"],
          ipv6CsumOffload: f["ipv6-csum-offload"],
          splitEventChannels: f["split-event-channels"],
          rxNotify: f["rx-notify"],
          multicastControl: f["multicast-control"],
        },
        ...(v.script === undefined ? {} : { script: v.script }),
      };
    });
    domains.push({
      domid,
      name: d.name,
      memoryMiB: mib,
      pages: mib * PAGES_PER_MIB,
      vifs,
      ...(d.loop === undefined ? {} : { loop: d.loop }),
      ...(cpus === undefined ? {} : { cpus }),
    });
  });

  const captures = new Map<string, string>();
  const bound = new Map<string, string>();
  const tapNames = new Map<string, string>();
  for (const name of bridgeNames) {
    const b = raw.bridges[name];
    for (const [i, u] of (b?.uplinks ?? []).entries()) {
      if (isTapEntry(u)) continue;
      uplinkRules(u.vxlan, ["bridges", name, "uplinks", i, "vxlan"], bad, bound);
    }
    for (const u of b?.uplinks ?? []) {
      if (!isTapEntry(u)) continue;
      const other = tapNames.get(u.tap.name);
      if (other !== undefined)
        bad(
          ["bridges", name, "uplinks"],
          `tap ${u.tap.name} is already an uplink of ${other}`,
          "one port per tap",
        );
      tapNames.set(u.tap.name, name);
    }
    const c = b?.capture;
    if (c !== undefined) {
      const at: KeyPath = ["bridges", name, "capture", "file"];
      const dir = dirname(resolve(c.file));
      const other = captures.get(resolve(c.file));
      if (!isDirectory(dir))
        bad(at, `${c.file}: directory ${dir} does not exist`, "a file in an existing directory");
      else if (other !== undefined)
        bad(at, `${c.file} is already the capture of bridges.${other}`, "one file per bridge");
      else captures.set(resolve(c.file), name);
    }
  }

  if (issues.length > 0) return { issues, config: undefined };
  const bridges: BridgeConfig[] = bridgeNames.map((name) => {
    const b = raw.bridges[name];
    const c = b?.capture;
    const capture = c === undefined ? undefined : { file: c.file, format: c.format, count: c.count };
    const all = b?.uplinks ?? [];
    const taps = all.filter(isTapEntry).map((u) => ({ name: u.tap.name, fd: u.tap.fd }));
    const uplinks = all.filter((u): u is UplinkConfig => !isTapEntry(u));
    return { name, uplinks, taps, capture };
  });
  return { issues, config: deepFreeze({ domains, bridges }) };
}

/**
 * A VXLAN uplink's rules beyond the schema: remote ports in range, and no two uplinks on
 * one local address and port (the second could not bind; 0.0.0.0 takes the port on all).
 */
function uplinkRules(
  v: VxlanUplinkConfig,
  at: KeyPath,
  bad: (path: KeyPath, problem: string, expected: string) => void,
  bound: Map<string, string>,
): void {
  v.remotes.forEach((r, j) => {
    const got = parseRemote(r, v.port);
    if (typeof got === "string")
      bad([...at, "remotes", j], got, "a peer's IPv4 address, optionally with :port");
  });
  const here = fmt(at);
  for (const [key, where] of bound) {
    const [addr, port] = key.split(" ");
    if (Number(port) === v.port && (addr === v.local || addr === "0.0.0.0" || v.local === "0.0.0.0")) {
      bad(
        [...at, "port"],
        `${v.local}:${v.port} is already bound by ${where}`,
        "one uplink per local address and port",
      );
      return;
    }
  }
  bound.set(`${v.local} ${v.port}`, here);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function checkAddress(
  ip: Ipv4Cidr,
  at: KeyPath,
  bridge: string,
  uses: Map<string, BridgeUse>,
  bad: (path: KeyPath, problem: string, expected: string) => void,
): void {
  const cidr = `${ip.address}/${ip.prefix}`;
  const host = ip.prefix >= 32 ? 0 : ip.value & (0xffffffff >>> ip.prefix);
  const hostMax = ip.prefix >= 32 ? 0 : 0xffffffff >>> ip.prefix;
  // /31 and /32 have no network or broadcast address (RFC 3021).
  if (ip.prefix <= 30 && (host === 0 || host >>> 0 === hostMax)) {
    const which = host === 0 ? "network" : "broadcast";
    bad(at, `${cidr} is the subnet's ${which} address`, `a host address in ${ip.network}/${ip.prefix}`);
    return;
  }
  const use = uses.get(bridge);
  if (use === undefined) {
    uses.set(bridge, { subnet: ip, subnetAt: at, addresses: new Map([[ip.value, at]]) });
    return;
  }
  const s = use.subnet;
  if (s.prefix !== ip.prefix || s.network !== ip.network) {
    bad(
      at,
      `${cidr} is not in ${bridge}'s subnet ${s.network}/${s.prefix} (set by ${fmt(use.subnetAt)})`,
      `one subnet per bridge`,
    );
    return;
  }
  const other = use.addresses.get(ip.value);
  if (other !== undefined)
    bad(at, `${ip.address} is already used by ${fmt(other)}`, `a unique address on ${bridge}`);
  else use.addresses.set(ip.value, at);
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
