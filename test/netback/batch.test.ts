/**
 * Domain-0's batch shape: many frames published at once and handled in one TX event go
 * through netback TX's batches, VALE's forwardBatch (destinations per batch, broadcast fanned
 * out to vifs and a ring port) and netback RX's run placement. Whatever the mix (staged or
 * grant-copied at either end, unicast and broadcast, runts dropped in the middle of a
 * batch), every receiver gets exactly its frames, in order and intact, and the sender an
 * answer for each.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PAGE_SIZE } from "../../src/hv/memory.js";
import { ringHead, ringSlot, slotBufIdx, slotLen } from "../../src/netmap/layout.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingAdvance, nmRingSpace } from "../../src/netmap/ring.js";
import { ValePort } from "../../src/vale/port.js";
import {
  NETIF_RSP_ERROR,
  NETIF_RSP_OKAY,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETTXF_csum_blank,
  NETTXF_data_validated,
} from "../../src/wire/xen/netif.js";
import {
  XEN_NETIF_CTRL_STATUS_SUCCESS,
  XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
  XEN_NETIF_CTRLF_GREF_readonly,
} from "../../src/wire/xen/netif-ctrl.js";
import { countGcs } from "../wire/net/fixtures.js";
import { buildFrame, MAC_BCAST, macOf, seqOf } from "./frames.js";
import type { RxFrame, SendOpts } from "./front-sim.js";
import { ALL_FEATURES, type Guest, OneThread } from "./harness.js";

function stage(g: Guest): void {
  const { tx, rx } = g.front.poolRefs;
  const refs = [...tx, ...rx];
  // One page of 8-byte entries per request.
  for (let from = 0; from < refs.length; from += PAGE_SIZE / 8) {
    const n = Math.min(PAGE_SIZE / 8, refs.length - from);
    const list = new Uint8Array(n * 8);
    const dv = new DataView(list.buffer);
    for (let i = 0; i < n; i++) {
      dv.setUint32(i * 8, refs[from + i]!, true);
      dv.setUint16(i * 8 + 4, from + i < tx.length ? XEN_NETIF_CTRLF_GREF_readonly : 0, true);
    }
    const p = g.alloc();
    g.mem.u8.set(list, p * PAGE_SIZE);
    const r = g.ctrlReq(XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, 0, g.grants.grantAccess(0, p, false), n);
    assert.equal(r.status, XEN_NETIF_CTRL_STATUS_SUCCESS);
  }
}

interface Rig {
  t: OneThread;
  a: Guest;
  b: Guest;
  c: Guest;
  port: NetmapPort;
}

/** Sender a, receivers b and c (vifs) and a ring port; everyone's MAC learnt. */
function rig(stageA: boolean, stageB: boolean, rxBacklogBytes?: number): Rig {
  const t = new OneThread(1024);
  const a = t.addGuest(ALL_FEATURES, {}, 1, { staging: true });
  const b = t.addGuest(ALL_FEATURES, rxBacklogBytes === undefined ? {} : { rxBacklogBytes }, 1, {
    staging: true,
  });
  const c = t.addGuest(ALL_FEATURES, {}, 1, { staging: true });
  if (stageA) stage(a);
  if (stageB) stage(b);
  const port = new ValePort(t.sw, "p0", 256).open();
  for (const g of [a, b, c]) {
    g.front.postRx();
    g.kick();
  }
  for (const g of [b, c]) {
    assert.ok(g.front.send(buildFrame({ dst: MAC_BCAST, src: macOf(g.domid), len: 60 })));
    g.front.pushTx();
    g.kick();
    g.front.reapTx();
  }
  t.runDeferred();
  for (const g of [a, b, c]) {
    g.front.receive([]);
    g.kick();
  }
  portFrames(port);
  return { t, a, b, c, port };
}

/** `g` publishes what it queued, Domain-0 handles it all (deferred runs too), `g` takes the answers. */
function transmit(t: OneThread, g: Guest): void {
  g.front.pushTx();
  g.kick();
  t.runDeferred();
  g.front.reapTx();
}

/** The ring port's frames since the last look: each one's sequence number. */
function portFrames(p: NetmapPort): number[] {
  const m = p.mem;
  const r = p.rx[0].r;
  p.rxsync();
  const n = nmRingSpace(m, r);
  let h = ringHead(m, r);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = ringSlot(r, h);
    const off = p.region.bufOff(slotBufIdx(m, s));
    out.push(seqOf(m.u8.slice(off, off + slotLen(m, s))));
    h = h + 1 === 256 ? 0 : h + 1;
  }
  nmRingAdvance(m, r, h);
  return out;
}

interface Spec {
  len: number;
  /** To b, or broadcast (b, c and the port), or a runt (dropped, answered ERROR). */
  kind: "b" | "bcast" | "runt";
  /** The sender's checksum flags: none, data validated, or blank (and validated). */
  csum: 0 | 1 | 2;
}

const TX_CSUM = [0, NETTXF_data_validated, NETTXF_csum_blank | NETTXF_data_validated];
/** What a receiver that takes checksum offload is told of each (netif.h's RX flags). */
const RX_CSUM = [0, NETRXF_data_validated, NETRXF_csum_blank | NETRXF_data_validated];

test("property: a burst handled in one TX event reaches every receiver whole and in order, staged or not; runts mid-batch are answered ERROR", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      fc.array(
        fc.record({
          len: fc.oneof(fc.integer({ min: 60, max: 200 }), fc.integer({ min: 60, max: 4000 })),
          kind: fc.constantFrom<Spec["kind"]>("b", "b", "b", "bcast", "runt"),
          csum: fc.constantFrom<Spec["csum"]>(0, 1, 2),
        }),
        { minLength: 1, maxLength: 100 },
      ),
      (stageA, stageB, specs) => {
        const { t, a, b, c, port } = rig(stageA, stageB);
        const sent: Uint8Array[] = [];
        for (const [i, s] of specs.entries()) {
          const dst = s.kind === "bcast" ? MAC_BCAST : macOf(b.domid);
          // A runt: 13 bytes (less than an Ethernet header) in the first slot.
          const f =
            s.kind === "runt"
              ? new Uint8Array(13)
              : buildFrame({
                  dst,
                  src: macOf(a.domid),
                  // One ring-port buffer (2 KiB) per broadcast, so the port's slots are frames.
                  len: s.kind === "bcast" ? Math.min(s.len, 1500) : s.len,
                  seq: i,
                });
          assert.ok(a.front.send(f, { flags: TX_CSUM[s.csum] }));
          sent.push(f);
        }
        transmit(t, a);
        const good = specs.flatMap((s, i) => (s.kind === "runt" ? [] : [i]));
        const bcast = specs.flatMap((s, i) => (s.kind === "bcast" ? [i] : []));
        const runts = specs.length - good.length;
        assert.equal(a.front.txStatus.get(NETIF_RSP_OKAY) ?? 0, good.length, "answered OKAY");
        assert.equal(a.front.txStatus.get(NETIF_RSP_ERROR) ?? 0, runts, "runts answered ERROR");
        assert.equal(a.front.txIdErrors, 0, "each answer names a request in flight");
        const atB: RxFrame[] = [];
        b.front.receive(atB);
        assert.deepEqual(
          atB.map((f) => seqOf(f.data)),
          good,
          "b: every good frame, in order",
        );
        for (const [k, i] of good.entries()) {
          assert.deepEqual(atB[k]!.data, sent[i], `frame ${i} intact`);
          assert.equal(atB[k]!.flags & RX_CSUM[2], RX_CSUM[specs[i]!.csum], `frame ${i}: its checksum flags`);
        }
        const atC: RxFrame[] = [];
        c.front.receive(atC);
        assert.deepEqual(
          atC.map((f) => seqOf(f.data)),
          bcast,
          "c: the broadcasts, in order",
        );
        assert.deepEqual(portFrames(port), bcast, "the ring port: the broadcasts, in order");
        assert.equal(a.vif.queues, 1);
        assert.deepEqual([a.fatal, b.fatal, c.fatal], [[], [], []]);
      },
    ),
    { numRuns: 40 },
  );
});

test("property: a receiver short of buffers keeps a backlog that drains in runs as it posts, every frame whole and in order, staged or not", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      // Rounds: frames a sends (sizes past a page take two slots: not a run's), then how many
      // buffers b has posted afterwards.
      fc.array(
        fc.record({
          lens: fc.array(fc.oneof(fc.integer({ min: 60, max: 300 }), fc.integer({ min: 60, max: 6000 })), {
            maxLength: 40,
          }),
          csum: fc.constantFrom<Spec["csum"]>(0, 1, 2),
          post: fc.integer({ min: 0, max: 64 }),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      (stageA, stageB, rounds) => {
        const { t, a, b } = rig(stageA, stageB, 1 << 20);
        // b uses up its posted buffers on frames of its own before the rounds begin.
        const fill = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 60, seq: 0xffff });
        let filler = 0;
        while (b.front.rx.freeRequests() < b.front.rx.nrEnts) {
          for (let i = 0; i < 32 && a.front.send(fill); i++) filler++;
          transmit(t, a);
          if (b.vif.rxBacklog(0).frames > 0) break;
        }
        const sent: Uint8Array[] = [];
        const got: RxFrame[] = [];
        let fillersGot = 0;
        const take = (): void => {
          const out: RxFrame[] = [];
          b.front.receive(out, false);
          for (const f of out) {
            if (seqOf(f.data) === 0xffff) fillersGot++;
            else got.push(f);
          }
        };
        take();
        for (const r of rounds) {
          for (const len of r.lens) {
            const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len, seq: sent.length });
            if (!a.front.send(f, { flags: TX_CSUM[r.csum] })) break;
            sent.push(f);
          }
          transmit(t, a);
          take();
          // An event only when netback asked for one (req_event), as a frontend sends it: a
          // kick that brings nothing is a spurious event, which netback may hold off.
          if (b.front.postRx(r.post)) b.kick();
          take();
        }
        // Then b posts all it can until the backlog is out.
        for (let i = 0; i < 1000 && (got.length < sent.length || fillersGot < filler); i++) {
          if (b.front.postRx()) b.kick();
          take();
        }
        assert.deepEqual(
          got.map((f) => seqOf(f.data)),
          sent.map((_, i) => i),
          "every frame, in order",
        );
        for (const [i, f] of got.entries()) assert.deepEqual(f.data, sent[i], `frame ${i} intact`);
        const q = b.vif.queueCounters()[0];
        assert.equal(q.get("tx_dropped"), 0, "nothing dropped");
        assert.equal(fillersGot, filler, "b's own fillers too");
        assert.equal(
          q.get("tx_packets"),
          got.length + filler + 1,
          "each counted once (and c's announcement)",
        );
        assert.equal(b.vif.rxBacklog(0).frames, 0);
        assert.deepEqual([a.fatal, b.fatal], [[], []]);
      },
    ),
    { numRuns: 40 },
  );
});

test("hot path: 64 B frames staged at both ends, 8 per TX event: no GC in 128000 frames", async () => {
  const { a, b } = rig(true, true);
  const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 64 });
  let got = 0;
  // One options object for all: a default `{}` per call would be the test's own garbage.
  const o: SendOpts = {};
  const gcs = await countGcs(() => {
    for (let i = 0; i < 8; i++) a.front.send(f, o);
    a.front.pushTx();
    // 8 slots are within one budget: nothing is deferred (runDeferred would allocate).
    a.kick();
    a.front.reapTx();
    got += b.front.receiveCount();
    b.kick();
  }, 16000);
  assert.equal(gcs, 0, `${gcs} GCs`);
  assert.ok(got >= 16000 * 8, `${got} frames arrived`);
});

test("four-page rings: bursts that wrap the rings, over TX slots straddling two pages, are answered and delivered in place", () => {
  const t = new OneThread(1024);
  // Order 2: the TX ring's 12-byte slots straddle the boundary between its pages 1 and 2.
  const a = t.addGuest(ALL_FEATURES, {}, 1, { staging: true }, 2);
  const b = t.addGuest(ALL_FEATURES, {}, 1, { staging: true }, 2);
  stage(a);
  assert.equal(a.front.tx.nrEnts, 1024);
  for (const g of [a, b]) {
    g.front.postRx();
    g.kick();
  }
  let seq = 0;
  const got: number[] = [];
  for (let burst = 0; burst < 6; burst++) {
    const first = seq;
    for (let i = 0; i < 400; i++)
      assert.ok(a.front.send(buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len: 64, seq: seq++ })));
    a.front.pushTx();
    a.kick();
    t.runDeferred();
    assert.equal(a.front.reapTx(), 400, `burst ${burst}: 400 answers`);
    assert.equal(a.front.txInFlight, 0, `burst ${burst}: every request answered`);
    const out: RxFrame[] = [];
    b.front.receive(out);
    b.kick();
    got.push(...out.map((f) => seqOf(f.data)));
    assert.equal(got.length, seq, `burst ${burst}: frames ${first}..${seq - 1} delivered`);
  }
  assert.deepEqual(
    got,
    Array.from({ length: seq }, (_, i) => i),
    "in order",
  );
  assert.equal(a.front.txStatus.get(NETIF_RSP_OKAY), seq);
  assert.equal(a.front.txIdErrors, 0, "each answer names a request in flight, in its own slot");
  assert.deepEqual([a.fatal, b.fatal], [[], []]);
});

test("property: a run mixing staged and grant-copied receive buffers, some copies failing, is answered in ring order: failed ones ERROR, the rest whole", () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(fc.integer({ min: 60, max: 4000 }), { minLength: 1, maxLength: 100 }),
      fc.integer({ min: 0, max: 0xffff }),
      (stageA, lens, seed) => {
        const { t, a, b } = rig(stageA, false);
        const rxRefs = b.front.poolRefs.rx;
        const mask = b.front.rx.nrEnts - 1;
        // Buffer id i: staged when bit (i mod 16) of the seed says so; of the others, every
        // third revoked, so its grant copy fails.
        const staged = (i: number): boolean => ((seed >>> (i & 15)) & 1) === 1;
        const revoked = (i: number): boolean => !staged(i) && i % 3 === 0;
        const list = [...rxRefs].filter((_, i) => staged(i));
        if (list.length > 0) {
          const p = b.alloc();
          const dv = new DataView(b.mem.u8.buffer, p * PAGE_SIZE);
          list.forEach((ref, k) => {
            dv.setUint32(k * 8, ref, true);
            dv.setUint16(k * 8 + 4, 0, true);
          });
          const r = b.ctrlReq(
            XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
            0,
            b.grants.grantAccess(0, p, false),
            list.length,
          );
          assert.equal(r.status, XEN_NETIF_CTRL_STATUS_SUCCESS);
        }
        for (let i = 0; i < rxRefs.length; i++) if (revoked(i)) assert.ok(b.grants.endAccess(rxRefs[i]!));
        const first = b.front.rx.rspCons;
        const sent: Uint8Array[] = [];
        for (const [i, len] of lens.entries()) {
          const f = buildFrame({ dst: macOf(b.domid), src: macOf(a.domid), len, seq: i });
          assert.ok(a.front.send(f));
          sent.push(f);
        }
        transmit(t, a);
        const lands = lens.map((_, k) => (first + k) & mask);
        const ok = lens.flatMap((_, k) => (revoked(lands[k]!) ? [] : [k]));
        const atB: RxFrame[] = [];
        const dropped = b.front.rxDropped;
        b.front.receive(atB);
        assert.equal(b.front.rxDropped - dropped, lens.length - ok.length, "failed copies answered ERROR");
        assert.deepEqual(
          atB.map((f) => seqOf(f.data)),
          ok,
          "the rest, in order",
        );
        for (const [k, i] of ok.entries()) assert.deepEqual(atB[k]!.data, sent[i], `frame ${i} intact`);
        assert.deepEqual([a.fatal, b.fatal], [[], []]);
      },
    ),
    { numRuns: 40 },
  );
});
