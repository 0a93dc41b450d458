/**
 * A guest with offloads out through a VXLAN uplink: netback's real TX path (the one-thread
 * harness) hands the switch a TCP GSO superframe and a UDP datagram with blank checksums;
 * the uplink takes no offloads, so what reaches the remote's socket on loopback is one
 * datagram per MSS-sized segment and the datagram, every inner checksum filled.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { test } from "node:test";
import { VxlanUplink } from "../../../src/uplink/vxlan/uplink.js";
import { NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV4 } from "../../../src/wire/xen/netif.js";
import { buildFrame, checksumsOk, macOf } from "../../netback/frames.js";
import { ALL_FEATURES, OneThread } from "../../netback/harness.js";

const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const VXLAN_HLEN = 8;

test("a guest's TCP superframe and blank UDP checksum leave through VXLAN as checksummed MSS segments", async () => {
  const h = new OneThread(2048);
  const g = h.addGuest(ALL_FEATURES);
  const remote = createSocket("udp4");
  await new Promise<void>((r) => remote.bind(0, "127.0.0.1", r));
  const got: Uint8Array[] = [];
  remote.on("message", (m) => got.push(new Uint8Array(m)));
  const up = await VxlanUplink.open(h.sw, {
    local: "127.0.0.1",
    port: 0,
    vni: 42,
    remotes: [`127.0.0.1:${remote.address().port}`],
    mtu: 1450,
  });
  try {
    const mss = 1360;
    const tcp = buildFrame({
      dst: BCAST,
      src: macOf(g.domid),
      len: 14 + 20 + 20 + 3 * mss,
      tcp: true,
      blank: true,
    });
    const udp = buildFrame({ dst: BCAST, src: macOf(g.domid), len: 14 + 20 + 8 + 500, blank: true });
    g.front.send(tcp, { flags: NETTXF_csum_blank, gsoType: XEN_NETIF_GSO_TYPE_TCPV4, gsoSize: mss });
    g.front.send(udp, { flags: NETTXF_csum_blank });
    g.front.pushTx();
    g.kick();
    h.runDeferred();
    const end = Date.now() + 20_000;
    while (got.length < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got.length, 4, "three segments and the datagram");
    const inner = got.map((d) => d.subarray(VXLAN_HLEN));
    const payload: number[] = [];
    for (const seg of inner.slice(0, 3)) {
      assert.ok(checksumsOk(seg), "segment checksums");
      assert.equal(seg.length, 14 + 20 + 20 + mss);
      payload.push(...seg.subarray(54));
    }
    assert.deepEqual(Uint8Array.from(payload), tcp.subarray(54), "the payload in order");
    assert.ok(checksumsOk(inner[3]!), "UDP checksum");
    assert.deepEqual(inner[3]!.subarray(0, 40), udp.subarray(0, 40));
    assert.equal(h.sw.softOffload.counters.get("gsoSegments"), 3);
    assert.equal(up.adapter.counters.get("tx_dropped"), 0);
  } finally {
    await up.close();
    remote.close();
  }
});
