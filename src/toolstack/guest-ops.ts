/**
 * A guest's side of the operator's commands: a vif announced by the host before Domain-0
 * writes its device (`pvnet network-attach`), and the UDP echo (`pvnet udp-echo`): an echo
 * server on a port of every stack the guest has, or one datagram out of the stack whose
 * subnet holds the target and its echo timed on the way back.
 */
import type { Domain } from "../hv/domain.js";
import { MACHINE } from "../hv/worker-proto.js";
import type { NetStack } from "../stack/iface.js";
import { SEND_OK, sendStatusName } from "../stack/send-status.js";
import type { UdpSocket } from "../stack/udp.js";
import { formatIpv4 } from "../wire/net/ipv4.js";
import type { GuestVif } from "./host-proto.js";
import { type GuestVifMsg, MSG_GUEST_VIF, MSG_UDP, type OpsReport, type UdpMsg } from "./ops-proto.js";

/** A stack that is up, with its address. */
export interface GuestStack {
  readonly stack: NetStack;
  readonly ip: number;
  readonly prefix: number;
}

export interface GuestOpsContext {
  /** The stacks that are up now. */
  readonly stacks: () => GuestStack[];
  /** A vif the host is about to add: known before its device appears. */
  readonly addVif: (v: GuestVif) => void;
}

/** Largest datagram udp-echo sends: what fits one 1500-byte frame. */
export const UDP_ECHO_MAX = 1472;

export function installGuestOps(dom: Domain, ctx: GuestOpsContext): void {
  const report = (r: OpsReport): void => dom.report(r);
  /** Echo servers by port: one socket per stack that was up when asked. */
  const servers = new Map<number, UdpSocket[]>();

  const listen = (id: number, port: number): void => {
    const up = ctx.stacks();
    if (up.length === 0) {
      report({ t: "udp-result", id, ok: false, from: null, reason: "no vif with an IP stack is up" });
      return;
    }
    if (servers.has(port)) {
      report({ t: "udp-result", id, ok: false, from: null, reason: `port ${port} is in use` });
      return;
    }
    const socks: UdpSocket[] = [];
    try {
      for (const s of up) socks.push(s.stack.startUdpEcho(port));
    } catch (e) {
      for (const s of socks) s.close();
      report({ t: "udp-result", id, ok: false, from: null, reason: errText(e) });
      return;
    }
    servers.set(port, socks);
    report({ t: "udp-result", id, ok: true, from: up.map((s) => formatIpv4(s.ip)).join(",") });
  };

  const send = (m: Extract<UdpMsg, { op: "send" }>): void => {
    const { id, ip, port, size, timeoutMs } = m;
    const up = ctx.stacks();
    const s = up.find((x) => sameNet(x, ip)) ?? up[0];
    if (s === undefined) {
      report({ t: "udp-result", id, ok: false, from: null, reason: "no vif with an IP stack is up" });
      return;
    }
    const from = formatIpv4(s.ip);
    const payload = new Uint8Array(size);
    const tag = new DataView(payload.buffer);
    // A tag of our own in the first bytes, so a stale or foreign datagram is not taken for the echo.
    const nonce = (Math.random() * 0xffffffff) >>> 0;
    if (size >= 4) tag.setUint32(0, nonce);
    let timer = -1;
    let at = 0;
    let sock: UdpSocket | null = null;
    const finish = (r: OpsReport): void => {
      if (sock === null) return;
      dom.timers.cancel(timer);
      sock.close();
      sock = null;
      report(r);
    };
    try {
      sock = s.stack.bindUdp(0, (saddr, sport, buf, off, len) => {
        if (saddr >>> 0 !== ip >>> 0 || sport !== port || len !== size) return;
        if (size >= 4 && new DataView(buf.buffer, buf.byteOffset + off, 4).getUint32(0) !== nonce) return;
        finish({ t: "udp-result", id, ok: true, from, rttMs: performance.now() - at, bytes: len });
      });
    } catch (e) {
      report({ t: "udp-result", id, ok: false, from, reason: errText(e) });
      return;
    }
    timer = dom.timers.after(timeoutMs, () =>
      finish({ t: "udp-result", id, ok: false, from, reason: "timeout" }),
    );
    at = performance.now();
    const st = sock.sendTo(ip, port, payload, 0, size);
    if (st !== SEND_OK) finish({ t: "udp-result", id, ok: false, from, reason: sendStatusName(st) });
  };

  dom.onMessage((src, data) => {
    if (src !== MACHINE || typeof data !== "object" || data === null) return;
    const t = (data as { t?: unknown }).t;
    if (t === MSG_GUEST_VIF) {
      const v = (data as GuestVifMsg).vif;
      if (typeof v?.vif?.devid === "number" && v.stackCounters instanceof SharedArrayBuffer) ctx.addVif(v);
      return;
    }
    if (t !== MSG_UDP) return;
    const m = data as UdpMsg;
    if (typeof m.id !== "number" || !validPort(m.port)) return;
    if (m.op === "listen") {
      listen(m.id, m.port);
      return;
    }
    if (
      m.op === "send" &&
      typeof m.ip === "number" &&
      Number.isInteger(m.size) &&
      m.size >= 0 &&
      m.size <= UDP_ECHO_MAX &&
      Number.isInteger(m.timeoutMs) &&
      m.timeoutMs > 0 &&
      m.timeoutMs <= 60_000
    )
      send(m);
  });
}

function validPort(p: unknown): p is number {
  return typeof p === "number" && Number.isInteger(p) && p >= 1 && p <= 65535;
}

function sameNet(s: GuestStack, ip: number): boolean {
  const mask = s.prefix === 0 ? 0 : (~0 << (32 - s.prefix)) >>> 0;
  return (s.ip & mask) >>> 0 === (ip & mask) >>> 0;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
