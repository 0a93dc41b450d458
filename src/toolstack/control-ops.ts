/**
 * The control socket's device and guest-stack requests (control.ts answers the rest):
 * `network-attach`, `network-detach`, `udp-listen`, `udp-echo` and `create-file` (a guest
 * file's text, validated here against the running host). Each request is checked field by
 * field; what is wrong comes back as one line naming the field.
 */
import { PvnetError } from "../base/errors.js";
import { parseIpv4 } from "../wire/net/ipv4.js";
import { XenbusState } from "../xenstore/xenbus.js";
import { formatIssue } from "./config.js";
import { parseGuestConfig } from "./config-guest.js";
import { derivedMac } from "./config-semantic.js";
import { UDP_ECHO_MAX } from "./guest-ops.js";
import type { Host } from "./host.js";

export type OpsRequest =
  | {
      op: "network-attach";
      domain: string;
      mac?: string;
      bridge?: string;
      ip?: string;
      script?: string;
    }
  | { op: "network-detach"; domain: string; device: string }
  | { op: "udp-listen"; domain: string; port: number }
  | { op: "udp-echo"; domain: string; ip: string; port: number; size: number; timeoutMs: number }
  | { op: "create-file"; file: string; text: string };

export const OPS_NAMES = ["network-attach", "network-detach", "udp-listen", "udp-echo", "create-file"];

/** The request, a message saying what is wrong with it, or null when the op is not ours. */
export function parseOpsRequest(o: Record<string, unknown>): OpsRequest | string | null {
  if (typeof o.op !== "string" || !OPS_NAMES.includes(o.op)) return null;
  const op = o.op;
  const allow = (keys: string[]): string | null => {
    const bad = Object.keys(o).find((k) => k !== "op" && !keys.includes(k));
    return bad === undefined ? null : `bad request: ${op}: unknown field ${JSON.stringify(bad)}`;
  };
  const str = (k: string, max = 256): string | null =>
    typeof o[k] === "string" && o[k] !== "" && (o[k] as string).length <= max ? (o[k] as string) : null;
  const optStr = (k: string, max = 1024): string | undefined | null =>
    o[k] === undefined ? undefined : str(k, max);
  const int = (k: string, lo: number, hi: number, dflt?: number): number | null => {
    const v = o[k] ?? dflt;
    return typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi ? v : null;
  };
  const domainErr = `bad request: ${op}: "domain" must be a domain's name or id (a non-empty string)`;
  switch (op) {
    case "network-attach": {
      const e = allow(["domain", "mac", "bridge", "ip", "script"]);
      if (e !== null) return e;
      const domain = str("domain");
      if (domain === null) return domainErr;
      const out: OpsRequest = { op, domain };
      for (const k of ["mac", "bridge", "ip", "script"] as const) {
        const v = optStr(k);
        if (v === null) return `bad request: ${op}: "${k}" must be a non-empty string`;
        if (v !== undefined) out[k] = v;
      }
      return out;
    }
    case "network-detach": {
      const e = allow(["domain", "device"]);
      if (e !== null) return e;
      const domain = str("domain");
      if (domain === null) return domainErr;
      const device = str("device", 64);
      if (device === null) return `bad request: ${op}: "device" must be a devid or a MAC`;
      return { op, domain, device };
    }
    case "udp-listen": {
      const e = allow(["domain", "port"]);
      if (e !== null) return e;
      const domain = str("domain");
      if (domain === null) return domainErr;
      const port = int("port", 1, 65535);
      if (port === null) return `bad request: ${op}: "port" must be an integer 1..65535`;
      return { op, domain, port };
    }
    case "udp-echo": {
      const e = allow(["domain", "ip", "port", "size", "timeoutMs"]);
      if (e !== null) return e;
      const domain = str("domain");
      if (domain === null) return domainErr;
      const ip = str("ip", 15);
      if (ip === null || typeof parseIpv4(ip) !== "number")
        return `bad request: ${op}: "ip" must be an IPv4 address a.b.c.d`;
      const port = int("port", 1, 65535);
      if (port === null) return `bad request: ${op}: "port" must be an integer 1..65535`;
      const size = int("size", 0, UDP_ECHO_MAX, 56);
      if (size === null) return `bad request: ${op}: "size" must be an integer 0..${UDP_ECHO_MAX}`;
      const timeoutMs = int("timeoutMs", 1, 60_000, 1000);
      if (timeoutMs === null) return `bad request: ${op}: "timeoutMs" must be an integer 1..60000`;
      return { op, domain, ip, port, size, timeoutMs };
    }
    default: {
      const e = allow(["file", "text"]);
      if (e !== null) return e;
      const file = str("file", 4096);
      if (file === null) return `bad request: ${op}: "file" must name the guest file`;
      if (typeof o.text !== "string") return `bad request: ${op}: "text" must be the guest file's text`;
      return { op: "create-file", file, text: o.text };
    }
  }
}

/** Answers one of our requests (throws a one-line error). */
export async function handleOpsRequest(host: Host, req: OpsRequest): Promise<Record<string, unknown>> {
  switch (req.op) {
    case "network-attach": {
      const { domain, op: _, ...spec } = req;
      return { ...(await host.attachVif(domainArg(domain), spec)) };
    }
    case "network-detach":
      return { ...(await host.detachVif(domainArg(req.domain), req.device)) };
    case "udp-listen":
      return { ...(await host.udpListen(domainArg(req.domain), req.port)) };
    case "udp-echo": {
      const which = domainArg(req.domain);
      const r = await host.udpEcho(which, parseIpv4(req.ip) as number, req.port, req.size, req.timeoutMs);
      const name = host.machine.status().find((d) => d.name === which || d.domid === which)?.name;
      return { ...r, reply: r.ok, domain: name, to: req.ip, port: req.port };
    }
    case "create-file":
      return createFromFile(host, req.file, req.text);
  }
}

/** xl takes a domain by name or by id. */
function domainArg(s: string): string | number {
  return /^\d+$/.test(s) ? Number(s) : s;
}

/** How long create waits for the new guest's vifs to be Connected at both ends. */
const CREATE_CONNECT_MS = 10_000;

/**
 * `xl create FILE`: the guest file validated as a host file's guest entry, then against
 * the running host (a free name, MACs and addresses, each bridge's subnet); resolves once
 * every vif is Connected. A guest whose vifs do not connect (or whose script fails) is
 * destroyed again and the error says why.
 */
async function createFromFile(host: Host, file: string, text: string): Promise<Record<string, unknown>> {
  const r = parseGuestConfig(text, file, host.bridges());
  if (!r.ok) {
    const more = r.issues.length > 1 ? ` (and ${r.issues.length - 1} more)` : "";
    throw new PvnetError("CONFIG", `${formatIssue(r.issues[0]!)}${more}`);
  }
  const g = r.guest;
  const live = host.machine.status().filter((d) => d.state !== "destroyed" && d.state !== "stopped");
  if (live.some((d) => d.name === g.name))
    throw new PvnetError("EEXIST", `name: a domain named ${g.name} exists`);
  const running = host.status().vifs;
  const macs = new Set(running.map((v) => v.mac));
  const next = Math.max(...live.map((d) => d.domid)) + 1;
  let k = 0;
  const vifs = g.vifs.map((v) => {
    if (r.derivedMacs.includes(v.devid)) {
      while (macs.has(derivedMac(next + k, v.devid))) k++;
      const mac = derivedMac(next + k, v.devid);
      macs.add(mac);
      return { ...v, mac };
    }
    const owner = running.find((x) => x.mac === v.mac);
    if (owner !== undefined)
      throw new PvnetError(
        "EADDRINUSE",
        `vifs[${v.devid}].mac: ${v.mac} is ${owner.name}'s (${owner.domain})`,
      );
    return v;
  });
  for (const v of vifs) {
    if (v.ip === undefined) continue;
    for (const o of running.filter((x) => x.bridge === v.bridge && x.ip !== null)) {
      const [addr, len] = o.ip!.split("/");
      if (addr === v.ip.address)
        throw new PvnetError("EADDRINUSE", `vifs[${v.devid}].ip: ${addr} is ${o.name}'s (${o.domain})`);
      const mask = (0xffffffff << (32 - Number(len))) >>> 0;
      if (
        Number(len) !== v.ip.prefix ||
        ((parseIpv4(addr!) as number) & mask) >>> 0 !== (v.ip.value & mask) >>> 0
      )
        throw new PvnetError(
          "EINVAL",
          `vifs[${v.devid}].ip: ${v.ip.address}/${v.ip.prefix} is not in ${v.bridge}'s subnet (as ${o.name}'s ${o.ip})`,
        );
    }
  }
  const { domid: _, ...rest } = g;
  const id = await host.addGuest({ ...rest, vifs });
  const end = performance.now() + CREATE_CONNECT_MS;
  for (;;) {
    const mine = host.status().vifs.filter((x) => x.domid === id);
    const failed = mine.find((x) => x.hotplug === "error");
    const waiting = mine.find(
      (x) =>
        x.frontend.state !== XenbusState.Connected ||
        x.backend.state !== XenbusState.Connected ||
        x.hotplug !== "connected",
    );
    if (waiting === undefined)
      return {
        domain: g.name,
        id,
        vifs: mine.map((x) => ({ vif: x.name, mac: x.mac, ip: x.ip, bridge: x.bridge })),
      };
    if (failed !== undefined || performance.now() > end) {
      await host.destroyGuest(id).catch(() => undefined);
      throw new PvnetError(
        "EIO",
        failed !== undefined
          ? `${failed.name}: hotplug failed${hotplugWhy(host, failed.name)}; destroyed ${g.name}`
          : `${waiting.name} not Connected within ${CREATE_CONNECT_MS / 1000} s (frontend ${waiting.frontend.stateName}, backend ${waiting.backend.stateName}); destroyed ${g.name}`,
      );
    }
    await new Promise((res) => setTimeout(res, 20));
  }
}

function hotplugWhy(host: Host, vif: string): string {
  const why = host.hotplugError(vif);
  return why === undefined ? "" : `: ${why}`;
}
