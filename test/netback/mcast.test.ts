import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MAC_ALL_HOSTS, MCAST_MAX, McastList, mcastWanted } from "../../src/netback/mcast.js";
import {
  NETIF_RSP_ERROR,
  NETIF_RSP_OKAY,
  NETTXF_extra_info,
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
  XEN_NETIF_EXTRA_TYPE_MCAST_DEL,
} from "../../src/wire/xen/netif.js";
import { buildFrame, MAC_BCAST, macOf } from "./frames.js";
import type { RxFrame } from "./front-sim.js";
import { ALL_FEATURES, type Guest, OneThread } from "./harness.js";

const G1 = [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03];
const G2 = [0x01, 0x00, 0x5e, 0x7f, 0x00, 0x09];
const ALL_HOSTS = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01];

function send(a: Guest, frame: Uint8Array): void {
  assert.ok(a.front.send(frame));
  a.front.pushTx();
  a.kick();
  a.front.reapTx();
}

function collect(g: Guest): RxFrame[] {
  const out: RxFrame[] = [];
  g.front.receive(out);
  g.kick();
  return out;
}

/** One MCAST_ADD/DEL request; the data slot's status. */
function mcastReq(g: Guest, type: number, addr: readonly number[]): number {
  const ok0 = g.front.txStatus.get(NETIF_RSP_OKAY) ?? 0;
  g.front.rawTx(0, 0, NETTXF_extra_info, 0);
  g.front.rawExtra(type, false, addr);
  g.front.pushTx();
  g.kick();
  g.front.reapTx();
  return (g.front.txStatus.get(NETIF_RSP_OKAY) ?? 0) > ok0 ? NETIF_RSP_OKAY : NETIF_RSP_ERROR;
}

/** Which of the destinations reached each receiver, as the destination's last octet. */
function deliveredTo(t: OneThread, from: Guest, dsts: number[][], to: Guest[]): number[][] {
  for (const d of dsts) send(from, buildFrame({ dst: d, src: macOf(from.domid), len: 100 }));
  t.runDeferred();
  return to.map((g) => collect(g).map((f) => f.data[5]));
}

test("multicast control: a vif that asked gets only its groups (plus broadcast and all-hosts); one that did not gets all; add/del and the dynamic switch act at once", () => {
  const t = new OneThread(1024);
  const a = t.addGuest(ALL_FEATURES);
  const b = t.addGuest({ ...ALL_FEATURES, multicastControl: true });
  const c = t.addGuest(ALL_FEATURES);
  for (const g of t.guests) {
    g.front.postRx();
    g.kick();
    g.front.reapTx();
  }
  const dsts = [G1, G2, MAC_BCAST, ALL_HOSTS];
  assert.deepEqual(deliveredTo(t, a, dsts, [b, c]), [
    [0xff, 0x01],
    [0x03, 0x09, 0xff, 0x01],
  ]);
  assert.equal(mcastReq(b, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, G1), NETIF_RSP_OKAY);
  assert.deepEqual(deliveredTo(t, a, dsts, [b, c]), [
    [0x03, 0xff, 0x01],
    [0x03, 0x09, 0xff, 0x01],
  ]);
  assert.equal(mcastReq(b, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, G1), NETIF_RSP_OKAY);
  assert.deepEqual(deliveredTo(t, a, dsts, [b])[0], [0xff, 0x01], "deleted: G1 filtered again");
  b.vif.setMulticastControl(false);
  assert.deepEqual(deliveredTo(t, a, dsts, [b])[0], [0x03, 0x09, 0xff, 0x01], "control off: everything");
  b.vif.setMulticastControl(true);
  assert.deepEqual(deliveredTo(t, a, dsts, [b])[0], [0xff, 0x01], "control on again");
  const unicast = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 100 });
  send(a, unicast);
  assert.equal(collect(b).length, 1, "unicast is never filtered");
  assert.equal(b.fatal.length + a.fatal.length + c.fatal.length, 0);
});

test("multicast control: 64 groups are kept, the 65th add is answered ERROR and not filtered in; every listed group is delivered", () => {
  const t = new OneThread(1024);
  const a = t.addGuest(ALL_FEATURES);
  const b = t.addGuest({ ...ALL_FEATURES, multicastControl: true });
  for (const g of t.guests) {
    g.front.postRx();
    g.kick();
  }
  const group = (i: number) => [0x01, 0x00, 0x5e, 0x10, 0x00, i];
  for (let i = 0; i < MCAST_MAX; i++)
    assert.equal(mcastReq(b, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, group(i)), NETIF_RSP_OKAY, `add ${i + 1}`);
  assert.equal(mcastReq(b, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, group(200)), NETIF_RSP_ERROR, "the 65th");
  const got: number[] = [];
  for (let i = 0; i < MCAST_MAX; i += 8) got.push(...deliveredTo(t, a, [group(i)], [b])[0]);
  assert.equal(got.length, MCAST_MAX / 8, "listed groups delivered");
  assert.deepEqual(deliveredTo(t, a, [group(200)], [b])[0], [], "the refused group is not");
});

test("property: mcastWanted passes unicast, broadcast and all-hosts always, a group exactly when listed", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 2 ** 48 - 1 }), { maxLength: MCAST_MAX }),
      fc.integer({ min: 0, max: 2 ** 48 - 1 }),
      (listed, dst) => {
        const l = new McastList();
        for (const m of listed) l.add(m);
        const u8 = new Uint8Array(8);
        for (let i = 0; i < 6; i++) u8[1 + i] = Math.floor(dst / 2 ** (8 * (5 - i))) & 0xff;
        const multicast = (u8[1] & 1) === 1;
        const want = !multicast || dst === 2 ** 48 - 1 || dst === MAC_ALL_HOSTS || listed.includes(dst);
        assert.equal(mcastWanted(l, u8, 1, 7), want);
        assert.equal(mcastWanted(l, u8, 1, 5), true, "a runt is the guest's to drop");
      },
    ),
  );
});
