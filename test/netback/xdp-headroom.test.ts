import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { boundXdpHeadroom, XDP_HEADROOM_MAX } from "../../src/netback/xdp-headroom.js";
import { privateMem } from "../../src/wire/mem.js";
import {
  NETRXF_extra_info,
  NETTXF_csum_blank,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_GSO,
  XEN_NETIF_EXTRA_TYPE_XDP,
  XEN_NETIF_GSO_TYPE_TCPV4,
} from "../../src/wire/xen/netif.js";
import { buildFrame, MAC_BCAST, macOf } from "./frames.js";
import type { RxFrame, SendOpts } from "./front-sim.js";
import { ALL_FEATURES, type Guest, OneThread } from "./harness.js";

function send(a: Guest, frame: Uint8Array, o: SendOpts = {}): void {
  assert.ok(a.front.send(frame, o));
  a.front.pushTx();
  a.kick();
  a.front.reapTx();
}

/** The raw responses of the next packet on `g`'s RX ring: [flags, status] of its first slot, its extras' [type, flags, u16]. */
function peekFirst(g: Guest): { flags: number; status: number; offset: number; extras: number[][] } {
  const r = g.front.rx;
  const m = privateMem(8 * 4);
  const at = (i: number) => {
    r.area.readSlot((r.rspCons + i) & (r.area.nrEnts - 1), m, i * 8);
    return i * 8;
  };
  const a0 = at(0);
  const flags = m.u16[(a0 + 4) >>> 1];
  const extras: number[][] = [];
  if (flags & NETRXF_extra_info)
    for (let i = 1; i < 4; i++) {
      const x = at(i);
      extras.push([m.u8[x], m.u8[x + 1], m.u16[(x + 2) >>> 1]]);
      if ((m.u8[x + 1] & XEN_NETIF_EXTRA_FLAG_MORE) === 0) break;
    }
  return { flags, status: m.i16[(a0 + 6) >>> 1], offset: m.u16[(a0 + 2) >>> 1], extras };
}

for (const head of [256, 1, XDP_HEADROOM_MAX]) {
  test(`xdp-headroom ${head}: every buffer's data starts at byte ${head}, offset 0, status counting it, an XDP extra after the first slot; frames of every size arrive intact`, () => {
    const t = new OneThread(1024);
    const a = t.addGuest(ALL_FEATURES);
    const b = t.addGuest({ ...ALL_FEATURES, xdpHeadroom: head });
    b.front.headroom = head;
    for (const g of t.guests) {
      g.front.postRx();
      g.kick();
    }
    send(b, buildFrame({ dst: MAC_BCAST, src: macOf(b.domid), len: 60 }));
    t.runDeferred();
    for (const len of [60, 1514, 4096 - head, 4097 - head, 9000, 32768, 60000]) {
      const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len });
      const dropped = b.vif.queueCounters()[0].get("tx_dropped");
      send(a, f);
      if (len > 18 * (4096 - head)) {
        assert.equal(b.front.receiveCount(), 0, `${len}: more than the 18 slots a guest takes`);
        assert.equal(b.vif.queueCounters()[0].get("tx_dropped"), dropped + 1, "dropped, counted");
        continue;
      }
      const raw = peekFirst(b);
      assert.equal(raw.offset, 0);
      assert.equal(
        raw.status,
        head + Math.min(len, 4096 - head),
        `${len}: status = headroom + bytes in the slot`,
      );
      assert.deepEqual(raw.extras, [[XEN_NETIF_EXTRA_TYPE_XDP, 0, head]]);
      const got: RxFrame[] = [];
      b.front.receive(got);
      b.kick();
      assert.equal(got.length, 1, `${len}`);
      assert.deepEqual(got[0].data, f, `${len} intact`);
    }
    const gso = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 30000, tcp: true, blank: true });
    send(a, gso, { flags: NETTXF_csum_blank, gsoType: XEN_NETIF_GSO_TYPE_TCPV4, gsoSize: 1448 });
    assert.deepEqual(
      peekFirst(b).extras.map((x) => x.slice(0, 2)),
      [
        [XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_FLAG_MORE],
        [XEN_NETIF_EXTRA_TYPE_XDP, 0],
      ],
      "GSO first, then XDP, in type order",
    );
    const got: RxFrame[] = [];
    b.front.receive(got);
    assert.deepEqual(got[0]?.data, gso);
    assert.equal(got[0]?.gsoSize, 1448);
    assert.deepEqual([a.fatal, b.fatal, b.front.rxDropped], [[], [], 0]);
  });
}

test("property: xdp-headroom is read as Linux reads it (not a decimal: 0; above 0x7fff cut) and bounded to half a page", () => {
  assert.equal(boundXdpHeadroom(undefined), 0);
  assert.equal(boundXdpHeadroom("256"), 256);
  assert.equal(boundXdpHeadroom("99999"), XDP_HEADROOM_MAX);
  fc.assert(
    fc.property(fc.string({ maxLength: 12 }), (s) => {
      const h = boundXdpHeadroom(s);
      assert.ok(Number.isInteger(h) && h >= 0 && h <= XDP_HEADROOM_MAX);
      if (!/^\d{1,10}$/.test(s)) assert.equal(h, 0);
    }),
  );
});
