// Domain-0's CPU per frame, guest to guest in one thread (netback TX, VALE, netback RX over
// test/netback/harness.ts), grant-copy against staging grants, 64 and 1500 B, three runs
// each after a warm-up. Load disturbs it far less than `pvnet bench vif`'s rates.
// Run after `npm run -s build`: node scripts/staging-cpu.mjs

import { PAGE_SIZE } from "../dist/src/hv/memory.js";
import { buildFrame, MAC_BCAST, macOf } from "../dist/test/netback/frames.js";
import { ALL_FEATURES, OneThread } from "../dist/test/netback/harness.js";

function page(g, bytes) {
  const p = g.alloc();
  g.mem.u8.set(bytes, p * PAGE_SIZE);
  return g.grants.grantAccess(0, p, false);
}
function stage(g) {
  const { tx, rx } = g.fronts[0].poolRefs;
  const list = new Uint8Array((tx.length + rx.length) * 8);
  const dv = new DataView(list.buffer);
  [...tx, ...rx].forEach((ref, i) => {
    dv.setUint32(i * 8, ref, true);
    dv.setUint16(i * 8 + 4, i < tx.length ? 1 : 0, true);
  });
  const r = g.ctrlReq(9, 0, page(g, list), tx.length + rx.length);
  if (r.status !== 0) throw new Error("stage");
}
function run(staged, len, frames) {
  const t = new OneThread(1024);
  const a = t.addGuest(ALL_FEATURES, {}, 1, { staging: true });
  const b = t.addGuest(ALL_FEATURES, {}, 1, { staging: true });
  if (staged) {
    stage(a);
    stage(b);
  }
  for (const g of t.guests) {
    g.front.postRx();
    g.kick();
  }
  for (const g of t.guests) {
    g.front.send(buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 60 }));
    g.front.pushTx();
    g.kick();
  }
  t.runDeferred();
  for (const g of t.guests) {
    g.front.receiveCount();
    g.kick();
  }
  const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len });
  let ns = 0,
    n = 0;
  for (let round = 0; round < frames / 64; round++) {
    for (let i = 0; i < 64; i++) a.front.send(f);
    a.front.pushTx();
    const t0 = process.hrtime.bigint();
    a.kick();
    ns += Number(process.hrtime.bigint() - t0);
    a.front.reapTx();
    n += b.front.receiveCount();
    b.kick();
  }
  return { nsPerFrame: ns / frames, delivered: n };
}
for (const len of [64, 1500])
  for (let rep = 0; rep < 3; rep++)
    for (const st of [false, true]) {
      run(st, len, 50_000);
      const r = run(st, len, 200_000);
      console.log(
        len,
        st ? "staging   " : "grant-copy",
        r.nsPerFrame.toFixed(0),
        "ns/frame (Domain-0, TX+switch+RX)",
        r.delivered,
      );
    }
