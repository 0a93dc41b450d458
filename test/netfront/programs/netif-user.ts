/**
 * A guest program of a test's own on a pvnet host, using only the library's Netif: by
 * its `extra` role, it either waits for a device that never comes, or ARPs for its peer
 * with a hand-built frame and reports what the Netif said.
 */

import { PvnetError } from "../../../src/base/errors.js";
import type { Domain } from "../../../src/hv/domain.js";
import { MACHINE } from "../../../src/hv/worker-proto.js";
import { Netif } from "../../../src/netfront/netif.js";
import type { GuestArgs } from "../../../src/toolstack/host-proto.js";

/** Starts when the test says "go" (so that it listens for the report before it comes). */
export default function main(dom: Domain, args: GuestArgs): void {
  const role = args.extra as { role: string; peer?: number; me?: number };
  let started = false;
  dom.onMessage((from, data) => {
    if (from !== MACHINE || data !== "go" || started) return;
    started = true;
    (role.role === "lonely" ? lonely(dom) : arp(dom, role.me!, role.peer!)).then(
      (r) => dom.report({ t: "netif-test", ...r }),
      (e: unknown) => dom.report({ t: "netif-test", error: String(e) }),
    );
  });
}

async function lonely(dom: Domain): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  try {
    await Netif.connect(dom, { waitMs: 300 });
    return { connected: true };
  } catch (e) {
    return { code: e instanceof PvnetError ? e.code : "?", ms: performance.now() - t0 };
  }
}

async function arp(dom: Domain, me: number, peer: number): Promise<Record<string, unknown>> {
  const netif = await Netif.connect(dom);
  const req = new Uint8Array(60);
  const dv = new DataView(req.buffer);
  req.fill(0xff, 0, 6);
  const mac = netif.mac;
  for (let i = 0; i < 6; i++) req[6 + i] = Math.floor(mac / 2 ** (8 * (5 - i))) & 0xff;
  dv.setUint16(12, 0x0806);
  dv.setUint16(14, 1); // Ethernet
  dv.setUint16(16, 0x0800);
  req[18] = 6;
  req[19] = 4;
  dv.setUint16(20, 1); // request
  req.copyWithin(22, 6, 12);
  dv.setUint32(28, me);
  dv.setUint32(38, peer);
  const replied = (): Promise<number> =>
    new Promise<number>((resolve) =>
      netif.listen((frame, off, len) => {
        const v = new DataView(frame.buffer, frame.byteOffset + off, len);
        if (len >= 42 && v.getUint16(12) === 0x0806 && v.getUint16(20) === 2 && v.getUint32(28) === peer)
          resolve(len);
      }),
    );
  const reply = replied();
  // The peer's vif may come up after ours: ask again until it answers.
  let sent = 0;
  const timer = setInterval(() => {
    if (netif.write(req)) sent++;
  }, 50);
  if (netif.write(req)) sent++;
  const len = await reply;
  clearInterval(timer);
  const stats = netif.stats();
  const status = netif.status();
  const out = {
    macAddress: netif.macAddress,
    mtu: netif.mtu,
    carrier: netif.carrier,
    state: status.state,
    replyLen: len,
    sent,
    txPackets: stats.tx_packets,
    rxPackets: stats.rx_packets,
  };
  // The request again, built in a lent TX buffer (zero-copy): the peer answers it too.
  const reply2 = replied();
  const at = netif.txBuffer(req.length);
  netif.txMem.u8.set(req, at);
  const lentCommitted = netif.txCommit(req.length);
  netif.flush();
  const lentReplyLen = await reply2;
  const lentTxPackets = netif.stats().tx_packets;
  // A lend still open when the vif goes away: the commit is refused, nothing throws.
  const lentAtDisconnect = netif.txBuffer(req.length);
  await netif.disconnect(); // a second call waits for the first
  const commitAfterDisconnect = netif.txCommit(req.length);
  netif.txAbort();
  return {
    ...out,
    lentAt: at,
    lentCommitted,
    lentReplyLen,
    lentTxPackets,
    lentAtDisconnect,
    commitAfterDisconnect,
    lendAfterDisconnect: netif.txBuffer(60),
    stateAfter: netif.status().state,
    carrierAfter: netif.carrier,
  };
}
