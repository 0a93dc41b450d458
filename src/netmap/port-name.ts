/**
 * Port names as libnetmap's nmport_open reads them: `subsystem:name[pipe][mode][/flags][@mem][@options]`.
 *   netmap:eth0      every NIC ring         netmap:eth0^   every host ring (NR_REG_SW)
 *   netmap:eth0^1    host ring 1            netmap:eth0*   NIC and host rings
 *   netmap:eth0-2    NIC ring pair 2        vale0:p1       VALE port, created on first open
 *   vale0:p1{3 / }3  master / slave end of pipe 3 on p1
 *   /x /z /t /r /R /T  exclusive, zero-copy monitor, TX/RX monitor, RX-only, TX-only
 *   @2               memory region 2        @conf:rings=2,slots=1024   @share=vale0:q
 * A malformed name gets a message that says what was expected where.
 */
import { type ParseError, parseError } from "../wire/layout.js";

export type RegMode = "ALL_NIC" | "SW" | "ONE_SW" | "NIC_SW" | "ONE_NIC";

export interface PortConf {
  txRings?: number;
  rxRings?: number;
  hostTxRings?: number;
  hostRxRings?: number;
  txSlots?: number;
  rxSlots?: number;
}

export interface PortName {
  /** The spec as given. */
  spec: string;
  /** `netmap` for OS interfaces, else the switch name (`vale0`, or `vale` for the default one). */
  subsystem: string;
  isVale: boolean;
  /** Interface or VALE port name, without pipe or mode suffixes. */
  port: string;
  pipe: { role: "master" | "slave"; id: string } | null;
  mode: RegMode;
  /** Ring for ONE_NIC / ONE_SW. */
  ringId: number;
  memId: number;
  flags: {
    exclusive: boolean;
    zcopyMon: boolean;
    monitorTx: boolean;
    monitorRx: boolean;
    rxOnly: boolean;
    txOnly: boolean;
  };
  share: string | null;
  conf: PortConf;
}

const IFNAMSIZ = 16;
const IDENT = /^[A-Za-z0-9_]+/;
const NUMBER = /^[0-9]+/;
const CONF_KEYS: Record<string, (keyof PortConf)[]> = {
  rings: ["txRings", "rxRings"],
  "tx-rings": ["txRings"],
  "rx-rings": ["rxRings"],
  "host-rings": ["hostTxRings", "hostRxRings"],
  "host-tx-rings": ["hostTxRings"],
  "host-rx-rings": ["hostRxRings"],
  slots: ["txSlots", "rxSlots"],
  "tx-slots": ["txSlots"],
  "rx-slots": ["rxSlots"],
};

export function parsePortName(spec: string): PortName | ParseError {
  const bad = (at: number, want: string): ParseError =>
    parseError(`Bad port name "${spec}": ${want} at position ${at} ("${spec.slice(at, at + 12)}")`);
  const colon = spec.indexOf(":");
  if (colon < 0) return parseError(`Bad port name "${spec}": expected netmap:IFNAME or valeN:PORT`);
  const subsystem = spec.slice(0, colon);
  const isVale = /^vale[A-Za-z0-9_]*$/.test(subsystem);
  if (subsystem !== "netmap" && !isVale) return bad(0, 'expected "netmap:" or "vale<ID>:"');
  if (subsystem.length >= IFNAMSIZ) return bad(0, `a switch name shorter than ${IFNAMSIZ} characters`);
  let i = colon + 1;
  const name = IDENT.exec(spec.slice(i));
  if (name === null) return bad(i, "a port name of letters, digits and _");
  const port = name[0];
  if (port.length >= IFNAMSIZ) return bad(i, `a port name shorter than ${IFNAMSIZ} characters`);
  i += port.length;
  const out: PortName = {
    spec,
    subsystem,
    isVale,
    port,
    pipe: null,
    mode: "ALL_NIC",
    ringId: 0,
    memId: 0,
    flags: {
      exclusive: false,
      zcopyMon: false,
      monitorTx: false,
      monitorRx: false,
      rxOnly: false,
      txOnly: false,
    },
    share: null,
    conf: {},
  };
  const c = spec[i];
  if (c === "{" || c === "}") {
    const id = IDENT.exec(spec.slice(i + 1));
    if (id === null) return bad(i + 1, "a pipe id after { or }");
    out.pipe = { role: c === "{" ? "master" : "slave", id: id[0] };
    i += 1 + id[0].length;
  }
  const mode = spec[i];
  if (mode === "^" || mode === "-" || mode === "*") {
    if (out.pipe !== null && mode !== "-") return bad(i, "pipes take no host-ring mode (only -N)");
    i++;
    const num = NUMBER.exec(spec.slice(i));
    if (mode === "*") out.mode = "NIC_SW";
    else if (mode === "^") out.mode = num === null ? "SW" : "ONE_SW";
    else {
      if (num === null) return bad(i, "a ring number after -");
      out.mode = "ONE_NIC";
    }
    if (num !== null && mode !== "*") {
      out.ringId = Number(num[0]);
      if (out.ringId >= 4095) return bad(i, "a ring number below 4095");
      i += num[0].length;
    }
  }
  if (spec[i] === "/") {
    i++;
    const start = i;
    for (; i < spec.length && /[xztrRT]/.test(spec[i]); i++) {
      const f = out.flags;
      const ch = spec[i];
      if (ch === "x") f.exclusive = true;
      else if (ch === "z") f.zcopyMon = true;
      else if (ch === "t") f.monitorTx = true;
      else if (ch === "r") f.monitorRx = true;
      else if (ch === "R") f.rxOnly = true;
      else f.txOnly = true;
    }
    if (i === start) return bad(i, "flags from x z t r R T after /");
  }
  while (i < spec.length) {
    if (spec[i] !== "@") return bad(i, "end of name, /flags, @N or @option");
    i++;
    const num = NUMBER.exec(spec.slice(i));
    if (num !== null) {
      out.memId = Number(num[0]);
      if (out.memId === 0) return bad(i, "a memory region id above 0");
      i += num[0].length;
      continue;
    }
    const r = parseOption(spec, i, out);
    if (typeof r !== "number") return r;
    i = r;
  }
  if (out.flags.rxOnly && out.flags.txOnly) return bad(spec.indexOf("/"), "at most one of R and T");
  return out;
}

/** `@share=NAME` or `@conf:key=v,...`; returns the index after it or an error. */
function parseOption(spec: string, i: number, out: PortName): number | ParseError {
  const bad = (at: number, want: string): ParseError =>
    parseError(`Bad port name "${spec}": ${want} at position ${at} ("${spec.slice(at, at + 12)}")`);
  const end = spec.indexOf("@", i);
  const body = spec.slice(i, end < 0 ? spec.length : end);
  if (body.startsWith("share=")) {
    if (body.length === 6) return bad(i, "a port name after share=");
    out.share = body.slice(6);
  } else if (body.startsWith("conf:")) {
    for (const kv of body.slice(5).split(",")) {
      const [k, v] = kv.split("=");
      const keys = CONF_KEYS[k ?? ""];
      if (keys === undefined) return bad(i, `a conf key (${Object.keys(CONF_KEYS).join(", ")})`);
      const n = Number(v);
      if (v === undefined || !/^[0-9]+$/.test(v) || n < 1 || n > 65536)
        return bad(i, `a count 1..65536 for ${k}`);
      for (const key of keys) out.conf[key] = n;
    }
  } else return bad(i, "an option: share=NAME or conf:key=value,...");
  return i + body.length;
}
