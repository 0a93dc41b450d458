/**
 * fast-check through the whole chain (one booted host reused across runs): random frame
 * kinds, sizes 60 B..64 KiB, NETTXF checksum flags and GSO type/MSS (matching or not the
 * frame, MSS 0 included), from a guest with sg or one without, to receivers with all
 * offloads, with none but sg, or without sg. Every frame either arrives intact (the same
 * bytes; or, for a blank checksum at a receiver without offload, the same bytes with a
 * correct checksum; or, GSO at a receiver without it, the valid segments) or is counted by
 * exactly one counter: netfront's tx_dropped, netback's rx_dropped (from the sender) or
 * tx_dropped (to a receiver).
 * sent = delivered + counted, exactly, and nothing arrives that was not sent.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import fc from "fast-check";
import {
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
} from "../../src/wire/xen/netif.js";
import {
  buildFrame,
  checkSegments,
  type FrameKind,
  firstDiff,
  HDR,
  l4ChecksumOk,
  withoutCheck,
} from "./frames.js";
import { Chain, type ChainGuest, type Received } from "./harness.js";

let chain: Chain;
/** guest1: sg, every offload; guest2: same; guest3: sg only; guest4: no sg. */
let full1: ChainGuest;
let full2: ChainGuest;
let plain: ChainGuest;
let nosg: ChainGuest;

before(async () => {
  chain = await Chain.boot([{}, {}, { gso: false, csum: false }, { sg: false }]);
  [full1, full2, plain, nosg] = chain.guests;
  await chain.hello();
});
after(async () => {
  await chain?.shutdown();
});

interface Sent {
  readonly to: number;
  readonly kind: FrameKind;
  readonly len: number;
  readonly flags: number;
  readonly gsoType: number;
  readonly mss: number;
  readonly blank: boolean;
}

const SIZES = [60, 61, 127, 128, 129, 1514, 4095, 4096, 4097, 9000, 32768, 65535];

const sentArb = fc.record({
  to: fc.integer({ min: 0, max: 2 }),
  kind: fc.constantFrom<FrameKind>("raw", "udp4", "tcp4", "udp6", "tcp6"),
  len: fc.oneof(
    fc.constantFrom(...SIZES),
    fc.integer({ min: 60, max: 1600 }),
    fc.integer({ min: 60, max: 65535 }),
  ),
  flags: fc.constantFrom(
    0,
    NETTXF_csum_blank,
    NETTXF_data_validated,
    NETTXF_csum_blank | NETTXF_data_validated,
  ),
  gsoType: fc.oneof(
    { weight: 3, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.constantFrom(XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6) },
  ),
  mss: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 500, max: 9000 })),
  blank: fc.boolean(),
});

const runArb = fc.record({
  fromNoSg: fc.boolean(),
  frames: fc.array(sentArb, { minLength: 1, maxLength: 10 }),
});

interface Counted {
  frontTx: number;
  backTx: number;
  backRx: number;
  fatal: number;
}

function counted(sender: ChainGuest, receivers: ChainGuest[]): Counted {
  const b = chain.back(sender);
  return {
    frontTx: chain.front(sender).tx_dropped,
    backTx: b.rx_dropped,
    backRx: receivers.reduce((s, r) => s + chain.back(r).tx_dropped, 0),
    fatal: chain.guests.reduce((s, g) => s + chain.back(g).tx_fatal + chain.front(g).fatal, 0),
  };
}

/** Waits until arrivals and counters have not moved for a few status periods. */
async function settle(sender: ChainGuest, receivers: ChainGuest[]): Promise<void> {
  let last = "";
  let still = 0;
  const end = Date.now() + 4000;
  while (Date.now() < end) {
    const now = JSON.stringify([counted(sender, receivers), receivers.map((r) => chain.rxCount(r))]);
    if (now === last) {
      if (++still === 6) return;
    } else still = 0;
    last = now;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Walks what `to` received against what was sent to it, in order (one sender, one queue):
 * each frame is delivered (consuming one record, or its segments) or missing. Returns the
 * number missing; throws on anything that arrived wrong or was never sent.
 */
function match(frames: { s: Sent; bytes: Uint8Array }[], to: ChainGuest, got: Received[]): number {
  let at = 0;
  let missing = 0;
  const offloads = to !== plain;
  const takesGso = to === full1 || to === full2;
  for (const [i, { s, bytes }] of frames.entries()) {
    const r = got[at];
    if (r === undefined || r.bytes === null) {
      missing++;
      continue;
    }
    if (r.len === bytes.length && firstDiff(r.bytes, bytes) === -1) {
      at++;
      const blankIn = (s.flags & NETTXF_csum_blank) !== 0;
      if ((r.flags & NETRXF_csum_blank) !== 0) {
        assert.ok(blankIn && offloads, `frame ${i}: csum_blank at guest${to.domid} it did not ask for`);
        assert.ok((r.flags & NETRXF_data_validated) !== 0, `frame ${i}: csum_blank without data_validated`);
      } else if (blankIn && s.kind !== "raw")
        // Left blank by the sender, not blank on arrival: the checksum must have been completed.
        assert.ok(
          l4ChecksumOk(r.bytes),
          `frame ${i}: blank checksum delivered as complete at guest${to.domid}`,
        );
      // A GSO frame reaches a receiver that takes GSO whole, with its meta; others never see GSO.
      if (takesGso && s.gsoType !== 0)
        assert.deepEqual([r.gsoType, r.gsoSize], [s.gsoType, s.mss], `frame ${i}: GSO meta`);
      else assert.equal(r.gsoType, 0, `frame ${i}: GSO meta at guest${to.domid}`);
      continue;
    }
    if (
      r.len === bytes.length &&
      (s.flags & NETTXF_csum_blank) !== 0 &&
      firstDiff(withoutCheck(r.bytes), withoutCheck(bytes)) === -1
    ) {
      assert.ok(l4ChecksumOk(r.bytes), `frame ${i}: completed checksum wrong at guest${to.domid}`);
      assert.equal(r.flags & NETRXF_csum_blank, 0, `frame ${i}: completed yet blank`);
      at++;
      continue;
    }
    if (
      !takesGso &&
      s.gsoType !== 0 &&
      (s.kind === "tcp4" || s.kind === "tcp6") &&
      s.mss > 0 &&
      r.len <= HDR[s.kind] + s.mss
    ) {
      const n = Math.max(1, Math.ceil((bytes.length - HDR[s.kind]) / s.mss));
      const segs = got.slice(at, at + n);
      if (segs.length === n && segs.every((x) => x.bytes !== null)) {
        const why = checkSegments(
          bytes,
          segs.map((x) => x.bytes as Uint8Array),
          s.mss,
        );
        if (why === null) {
          at += n;
          continue;
        }
      }
    }
    // Not this frame's: it was dropped (and must have been counted).
    missing++;
  }
  assert.equal(at, got.length, `guest${to.domid}: ${got.length - at} frames arrived that match nothing sent`);
  return missing;
}

test("random frames through the chain: each delivered intact or counted, exactly", async (t) => {
  let runs = 0;
  const by = { frontTx: 0, backTx: 0, backRx: 0 };
  let delivered = 0;
  let dropped = 0;
  await fc.assert(
    fc.asyncProperty(runArb, async (run) => {
      runs++;
      const sender = run.fromNoSg ? nosg : full1;
      const receivers = run.fromNoSg ? [full1, full2, plain] : [full2, plain, nosg];
      for (const r of receivers) await chain.clear(r);
      const c0 = counted(sender, receivers);
      const frames = run.frames.map((s) => {
        const kind = s.gsoType !== 0 && s.kind === "raw" ? "tcp4" : s.kind;
        const len = Math.max(s.len, HDR[kind] + 1);
        const s2 = { ...s, kind, len };
        const dst = receivers[s.to];
        return {
          s: s2,
          bytes: buildFrame({
            kind,
            len,
            dst: dst.mac,
            src: sender.mac,
            seed: runs * 100 + s.len,
            blank: s.blank,
          }),
        };
      });
      await chain.send(
        sender,
        frames.map(({ s, bytes }) => ({
          bytes,
          flags: s.flags,
          gsoType: s.gsoType,
          gsoSize: s.mss,
          repeat: 1,
        })),
      );
      await settle(sender, receivers);
      const c1 = counted(sender, receivers);
      assert.equal(c1.fatal - c0.fatal, 0, "a fatal error");
      let missing = 0;
      for (const [k, r] of receivers.entries())
        missing += match(
          frames.filter((f) => f.s.to === k),
          r,
          chain.received(r),
        );
      const n = c1.frontTx - c0.frontTx + (c1.backTx - c0.backTx) + (c1.backRx - c0.backRx);
      assert.equal(missing, n, `missing ${missing} frames, counted ${n}: ${JSON.stringify([c0, c1])}`);
      by.frontTx += c1.frontTx - c0.frontTx;
      by.backTx += c1.backTx - c0.backTx;
      by.backRx += c1.backRx - c0.backRx;
      delivered += frames.length - missing;
      dropped += missing;
    }),
    { numRuns: 25, seed: Number(process.env.PVNET_E2E_SEED ?? 0x5eed) },
  );
  t.diagnostic(JSON.stringify({ runs, delivered, dropped, by }));
  // The generators reach delivery and each counter.
  assert.ok(delivered > 0 && by.frontTx > 0 && by.backRx > 0, JSON.stringify({ delivered, dropped, by }));
});
