/**
 * The pvnet side of soft-offload.test.ts, run under scripts/pvnet-tap (which opens the tap
 * and passes its descriptor in PVNET_TAP_FDS): netback in one thread with a guest that
 * negotiated every offload (test/netback/harness.ts: the real TX ring, grants and netback
 * TX), a VALE switch, and the tap as its uplink. On stdin `go MAC IP` the guest sends a TCP
 * GSO superframe (3 x MSS, csum blank, a GSO extra) and a UDP datagram with a blank
 * checksum to that kernel address; stdout gets `ready JSON` (what it will send), then
 * `sent JSON` (counters).
 */
import { createInterface } from "node:readline";
import { TapUplink } from "../../../../src/uplink/tap/uplink.js";
import { NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4 } from "../../../../src/wire/xen/netif.js";
import { ALL_FEATURES, OneThread } from "../../../netback/harness.js";

const GUEST_MAC = [0x02, 0, 0, 0, 0x98, 0x01];
const GUEST_IP = [10, 98, 0, 1];
const MSS = 1448;
const SEQ0 = 0x7ffffa00;
const TCP_DPORT = 9;
const UDP_DPORT = 7777;

const [name, fdText] = (process.env.PVNET_TAP_FDS ?? "").split(",")[0]!.split("=");
const h = new OneThread(2048);
const g = h.addGuest(ALL_FEATURES);
const tap = new TapUplink(h.sw, name!, Number(fdText), { log: (l) => process.stderr.write(`${l}\n`) });

function sum16(b: Uint8Array, from: number, to: number, s = 0): number {
  for (let i = from; i < to; i += 2) s += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Ethernet + IPv4 + TCP or UDP, L4 checksum holding the pseudo-header sum (a blank one). */
function frame(dstMac: number[], dstIp: number[], tcp: boolean, payload: number): Uint8Array {
  const l4Hlen = tcp ? 20 : 8;
  const b = new Uint8Array(14 + 20 + l4Hlen + payload);
  b.set(dstMac, 0);
  b.set(GUEST_MAC, 6);
  b[12] = 0x08;
  const ip = 14;
  const tot = 20 + l4Hlen + payload;
  b.set([0x45, 0, tot >>> 8, tot & 0xff, 0x12, 0x34, 0x40, 0, 64, tcp ? 6 : 17], ip);
  b.set(GUEST_IP, ip + 12);
  b.set(dstIp, ip + 16);
  const hc = ~sum16(b, ip, ip + 20) & 0xffff;
  b[ip + 10] = hc >>> 8;
  b[ip + 11] = hc & 0xff;
  const l4 = ip + 20;
  const dv = new DataView(b.buffer);
  dv.setUint16(l4, 40000);
  dv.setUint16(l4 + 2, tcp ? TCP_DPORT : UDP_DPORT);
  if (tcp) {
    dv.setUint32(l4 + 4, SEQ0);
    dv.setUint32(l4 + 8, 1);
    b[l4 + 12] = 0x50;
    b[l4 + 13] = 0x18; // PSH | ACK
    dv.setUint16(l4 + 14, 0xffff);
  } else dv.setUint16(l4 + 4, 8 + payload);
  for (let i = l4 + l4Hlen; i < b.length; i++) b[i] = (i * 7) & 0xff;
  const l4Len = tot - 20;
  const pseudo = sum16(b, ip + 12, ip + 20, (tcp ? 6 : 17) + l4Len);
  dv.setUint16(l4 + (tcp ? 16 : 6), pseudo);
  return b;
}

process.stdout.write(
  `ready ${JSON.stringify({ mss: MSS, seq0: SEQ0, tcpPort: TCP_DPORT, udpPort: UDP_DPORT })}\n`,
);
createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, mac, ipText] = line.trim().split(/\s+/);
  if (cmd === "quit") {
    tap.close();
    process.exit(0);
  }
  if (cmd !== "go" || mac === undefined || ipText === undefined) return;
  const dstMac = mac.split(":").map((x) => Number.parseInt(x, 16));
  const dstIp = ipText.split(".").map(Number);
  g.front.send(frame(dstMac, dstIp, true, 3 * MSS), {
    flags: NETTXF_csum_blank,
    gsoType: XEN_NETIF_GSO_TYPE_TCPV4,
    gsoSize: MSS,
  });
  g.front.send(frame(dstMac, dstIp, false, 300), { flags: NETTXF_csum_blank });
  g.front.pushTx();
  g.kick();
  h.runDeferred();
  g.front.reapTx();
  const so = h.sw.softOffload.counters;
  process.stdout.write(
    `sent ${JSON.stringify({
      soft: Object.fromEntries(so.names.map((n) => [n, so.get(n)])),
      tap: tap.counters(),
      txStatus: Object.fromEntries(g.front.txStatus),
      fatal: g.fatal,
    })}\n`,
  );
});
