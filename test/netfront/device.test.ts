import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { flowHash } from "../../src/netfront/flow-hash.js";
import {
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
} from "../../src/wire/xen/netif.js";
import { countGcs } from "../wire/net/fixtures.js";
import { checkFrame, fillFrame, udpFrame } from "./frames.js";
import { ALL_FEATURES, Harness, type HarnessOptions } from "./harness.js";

interface Got {
  seq: number;
  len: number;
  flags: number;
  gsoType: number;
  gsoSize: number;
}

function receiver(h: Harness): Got[] {
  const got: Got[] = [];
  h.dev.onReceive((b, off, len, flags) => {
    got.push({
      seq: checkFrame(b, off, len),
      len,
      flags,
      gsoType: h.dev.rxMeta.gsoType,
      gsoSize: h.dev.rxMeta.gsoSize,
    });
  });
  return got;
}

/** Sends each frame, pumping whenever the device pushes back; returns the frames received. */
function sendAll(h: Harness, sizes: readonly number[], flags: (i: number) => number = () => 0): Got[] {
  const got = receiver(h);
  let writable = 0;
  h.dev.onWritable(() => writable++);
  const buf = new Uint8Array(65536);
  for (let i = 0; i < sizes.length; i++) {
    fillFrame(buf, 0, sizes[i], i);
    let tries = 0;
    while (!h.dev.transmit(buf, sizes[i], flags(i))) {
      const before = writable;
      h.pump();
      assert.ok(writable > before, "a refused transmit is followed by a writable call");
      assert.ok(++tries < 3, "room came back");
    }
  }
  h.pump();
  return got;
}

test("frames of 60 B to 64 KiB cross TX and come back through RX intact, with sg", () => {
  const h = new Harness();
  const sizes = [60, 61, 64, 100, 1514, 4095, 4096, 4097, 8192, 9000, 16_385, 32_768, 65_000, 65_535];
  for (let s = 60; s < 65_536; s += 1531) sizes.push(s);
  const got = sendAll(h, sizes);
  assert.deepEqual(
    got.map((g) => [g.seq, g.len]),
    sizes.map((s, i) => [i, s]),
  );
  assert.deepEqual(h.fatals, []);
  const c = h.dev.counters(0)?.snapshot();
  assert.equal(c?.tx_packets, sizes.length);
  assert.equal(c?.rx_packets, sizes.length);
  assert.equal(
    c?.tx_bytes,
    sizes.reduce((a, b) => a + b, 0),
  );
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0, "every grant ended");
});

test("a batch is published with one push and one notification, after the frames, not per frame", () => {
  const h = new Harness();
  let n = 0;
  h.dev.onReceive(() => n++);
  const buf = new Uint8Array(100);
  for (let round = 0; round < 3; round++) {
    h.sends.fill(0);
    for (let i = 0; i < 50; i++) {
      fillFrame(buf, 0, 100, i);
      assert.ok(h.dev.transmit(buf, 100, 0));
    }
    assert.equal(h.echo[0].tx.unconsumedRequests(), 0, "nothing published inside transmit");
    assert.equal(h.sends[1], 0);
    h.pump();
    assert.equal(h.sends[1], 1, "one notification for the batch");
  }
  assert.equal(n, 150);
});

test("TX completions raise no event while the pool has room; a refused sender still gets one", () => {
  const h = new Harness({ split: true });
  let n = 0;
  h.dev.onReceive(() => n++);
  let writable = 0;
  h.dev.onWritable(() => writable++);
  const buf = new Uint8Array(100);
  fillFrame(buf, 0, 100, 1);
  assert.ok(h.dev.transmit(buf, 100, 0));
  h.pump();
  const txPort = 1;
  const first = h.events[txPort];
  for (let i = 0; i < 200; i++) {
    assert.ok(h.dev.transmit(buf, 100, 0));
    h.pump();
  }
  assert.equal(n, 201, "every frame came back");
  assert.equal(h.events[txPort], first, "no TX event for completions the sender reaps itself");
  assert.ok(h.events[2] >= 200, "RX still raises its events");
  // Run out of room without pumping: the refusal must arm the event, and writable follow.
  let sent = 0;
  while (h.dev.transmit(buf, 100, 0)) sent++;
  assert.ok(sent > 0);
  h.pump();
  assert.ok(h.events[txPort] > first, "a refused sender asks for a TX event");
  assert.equal(writable, 1, "and is told when room returns");
  assert.equal(n, 201 + sent);
});

test("without sg a frame above one page is dropped and counted, never sent", () => {
  const h = new Harness({ features: { ...ALL_FEATURES, sg: false } });
  const got = sendAll(h, [1514, 4097, 60]);
  assert.deepEqual(
    got.map((g) => g.seq),
    [0, 2],
  );
  assert.equal(h.dev.counters(0)?.get("tx_dropped"), 1);
  assert.equal(h.echo[0].stats.frames, 2);
});

test("checksum flags and GSO extras pass through both ways", () => {
  const h = new Harness();
  const got = receiver(h);
  const buf = new Uint8Array(65536);
  fillFrame(buf, 0, 1000, 0);
  assert.ok(h.dev.transmit(buf, 1000, NETTXF_csum_blank | NETTXF_data_validated));
  fillFrame(buf, 0, 1000, 1);
  assert.ok(h.dev.transmit(buf, 1000, NETTXF_data_validated));
  fillFrame(buf, 0, 1000, 2);
  assert.ok(h.dev.transmit(buf, 1000, 0));
  fillFrame(buf, 0, 30_000, 3);
  assert.ok(
    h.dev.transmitGso(buf, 30_000, NETTXF_csum_blank | NETTXF_data_validated, XEN_NETIF_GSO_TYPE_TCPV4, 1448),
  );
  fillFrame(buf, 0, 9000, 4);
  assert.ok(h.dev.transmitGso(buf, 9000, NETTXF_csum_blank, XEN_NETIF_GSO_TYPE_TCPV6, 1440));
  h.pump();
  assert.deepEqual(
    got.map((g) => [g.seq, g.flags, g.gsoType, g.gsoSize]),
    [
      [0, NETRXF_csum_blank | NETRXF_data_validated, 0, 0],
      [1, NETRXF_data_validated, 0, 0],
      [2, 0, 0, 0],
      [3, NETRXF_csum_blank | NETRXF_data_validated, XEN_NETIF_GSO_TYPE_TCPV4, 1448],
      [4, NETRXF_csum_blank | NETRXF_data_validated, XEN_NETIF_GSO_TYPE_TCPV6, 1440],
    ],
  );
  assert.equal(h.echo[0].stats.gso, 2);
});

test("a GSO type the backend did not offer is dropped and counted", () => {
  const h = new Harness({ features: { ...ALL_FEATURES, gsoTcpv6: false } });
  const got = receiver(h);
  const buf = new Uint8Array(9000);
  fillFrame(buf, 0, 9000, 0);
  assert.ok(h.dev.transmitGso(buf, 9000, 0, XEN_NETIF_GSO_TYPE_TCPV6, 1440));
  assert.ok(h.dev.transmitGso(buf, 9000, 0, XEN_NETIF_GSO_TYPE_TCPV4, 0), "MSS 0 is refused too");
  h.pump();
  assert.equal(got.length, 0);
  assert.equal(h.dev.counters(0)?.get("tx_dropped"), 2);
});

test("a full ring pushes back (false, nothing taken) and calls writable once room returns; nothing lost", () => {
  const h = new Harness();
  const got = receiver(h);
  let writable = 0;
  h.dev.onWritable(() => writable++);
  const buf = new Uint8Array(2000);
  let seq = 0;
  let refused = 0;
  // Without pumping, the backend never runs: the pool (256 pages) runs out.
  for (let i = 0; i < 300; i++) {
    fillFrame(buf, 0, 1000, seq);
    if (h.dev.transmit(buf, 1000, 0)) seq++;
    else refused++;
  }
  assert.equal(seq, 256);
  assert.equal(refused, 44);
  assert.equal(writable, 0, "never called from inside transmit");
  assert.equal(h.dev.counters(0)?.get("tx_ring_full"), 1, "44 refusals in a row: one full ring");
  h.pump();
  assert.equal(writable, 1);
  for (; seq < 400; seq++) {
    fillFrame(buf, 0, 1000, seq);
    assert.ok(h.dev.transmit(buf, 1000, 0));
    if (seq % 100 === 0) h.pump();
  }
  h.pump();
  assert.deepEqual(
    got.map((g) => g.seq),
    Array.from({ length: 400 }, (_, i) => i),
  );
});

test("flow hash: stable per flow, sensitive to addresses and ports, ports ignored for fragments", () => {
  const a = udpFrame(100, 0x0a000001, 0x0a000002, 1000, 7);
  assert.equal(flowHash(a, 100), flowHash(udpFrame(100, 0x0a000001, 0x0a000002, 1000, 7), 100));
  const hashes = new Set<number>();
  for (let p = 0; p < 64; p++)
    hashes.add(flowHash(udpFrame(100, 0x0a000001, 0x0a000002, 1000 + p, 7), 100) % 4);
  assert.equal(hashes.size, 4, "ports spread flows over 4 queues");
  const frag = udpFrame(100, 0x0a000001, 0x0a000002, 1000, 7);
  frag[20] = 0x20; // more fragments
  const frag2 = udpFrame(100, 0x0a000001, 0x0a000002, 2000, 9);
  frag2[21] = 10; // offset
  assert.equal(flowHash(frag, 100), flowHash(frag2, 100));
  assert.equal(flowHash(new Uint8Array(10), 10), 0);
});

test("multi-queue: every frame of a flow takes one queue; flows spread over all four", () => {
  const h = new Harness({ queues: 4 });
  let received = 0;
  h.dev.onReceive(() => received++);
  const used = new Set<number>();
  for (let f = 0; f < 32; f++) {
    const frame = udpFrame(200, 0x0a000001, 0x0a000002 + (f & 3), 1000 + f, 7);
    const before = [0, 1, 2, 3].map((q) => h.dev.counters(q)?.get("tx_packets") ?? 0);
    for (let i = 0; i < 10; i++) assert.ok(h.dev.transmit(frame, 200, 0));
    h.pump();
    const diff = [0, 1, 2, 3].map((q) => (h.dev.counters(q)?.get("tx_packets") ?? 0) - before[q]);
    assert.deepEqual(
      diff.filter((d) => d !== 0),
      [10],
      `flow ${f}: ${diff}`,
    );
    const q = diff.indexOf(10);
    assert.equal(q, flowHash(frame, 200) % 4);
    used.add(q);
  }
  assert.equal(used.size, 4);
  assert.equal(received, 320);
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0);
});

const HOSTILE_CASES: [HarnessOptions["hostile"], RegExp, boolean][] = [
  ["txBadId", /tx: Response has incorrect id 40000/, false],
  ["txDouble", /tx: Response for inactive request/, false],
  ["txBadStatus", /tx: Response \d+ has bad status 7/, false],
  ["rxBadId", /rx: Bad rx response id/, false],
  ["rxProd", /rx: illegal number of responses/, false],
];

// Bad packets, not a broken backend: dropped with their buffers recycled, as Linux does.
for (const [hostile, gso] of [
  ["rxOffset", false],
  ["rxBadExtra", true],
  ["rxBadGso", true],
] as const) {
  test(`hostile backend (${hostile}, one thread): each packet dropped and counted in rx_errors, the queue goes on`, () => {
    const h = new Harness({ hostile });
    const got = receiver(h);
    const buf = new Uint8Array(2000);
    const send = (seq: number): void => {
      fillFrame(buf, 0, 100, seq);
      const ok = gso
        ? h.dev.transmitGso(buf, 100, 0, XEN_NETIF_GSO_TYPE_TCPV4, 50)
        : h.dev.transmit(buf, 100, 0);
      assert.ok(ok, `frame ${seq} taken`);
    };
    // More than the RX pool: dropped packets must give their buffers back.
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 100; i++) send(round * 100 + i);
      h.pump();
    }
    assert.deepEqual(h.fatals, []);
    assert.equal(h.dev.counters(0)?.get("fatal"), 0);
    assert.equal(h.dev.counters(0)?.get("rx_errors"), 600);
    assert.equal(got.length, 0, "no bad frame delivered");
    assert.equal(h.close(), 0);
  });
}

for (const [hostile, reason, gso] of HOSTILE_CASES) {
  test(`hostile backend (${hostile}, one thread): fatal with a reason, no throw, queue stops`, () => {
    const h = new Harness({ hostile });
    const got = receiver(h);
    const buf = new Uint8Array(2000);
    // One batch: the double completion names a buffer still in flight in it.
    for (let i = 0; i < 3; i++) {
      fillFrame(buf, 0, 100, i);
      if (gso) h.dev.transmitGso(buf, 100, 0, XEN_NETIF_GSO_TYPE_TCPV4, 50);
      else h.dev.transmit(buf, 100, 0);
    }
    h.pump();
    assert.equal(h.fatals.length, 1, h.fatals.join("; "));
    assert.match(h.fatals[0], reason);
    assert.equal(h.dev.counters(0)?.get("fatal"), 1);
    assert.equal(got.filter((g) => g.seq < 0).length, 0, "no bad frame delivered");
    fillFrame(buf, 0, 100, 9);
    const sent = h.echo[0].stats.frames;
    assert.equal(h.dev.transmit(buf, 100, 0), false, "a stopped queue takes nothing");
    h.pump();
    assert.equal(h.echo[0].stats.frames, sent, "and publishes nothing");
  });
}

test("a backend's honest failures (NETIF_RSP_ERROR) are counted, buffers reclaimed, the queue goes on", () => {
  const h = new Harness({ hostile: "errors" });
  const got = sendAll(h, Array(300).fill(200));
  assert.deepEqual(h.fatals, []);
  assert.deepEqual(
    got.map((g) => g.seq),
    Array.from({ length: 299 }, (_, i) => i + 1),
    "frame 0's echo failed, every other arrived",
  );
  const c = h.dev.counters(0);
  assert.equal(c?.get("tx_errors"), 1);
  assert.equal(c?.get("rx_errors"), 1);
  // Every TX buffer came back, the failed frame's too: the whole pool takes a burst.
  const buf = new Uint8Array(100);
  fillFrame(buf, 0, 100, 0);
  for (let i = 0; i < 256; i++) assert.ok(h.dev.transmit(buf, 100, 0), `frame ${i} of the burst`);
  h.pump();
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0);
});

test("the hot path allocates nothing per frame: 64 B and 200 B end to end, through TX, the backend and RX", async () => {
  const h = new Harness();
  let n = 0;
  let bad = 0;
  h.dev.onReceive((b, off, len) => {
    n++;
    if (checkFrame(b, off, len) < 0) bad++;
  });
  // Two frames of one buffer, as the stack's slots are.
  const slots = new Uint8Array(2 * 1504);
  const a = slots.subarray(0, 1504);
  fillFrame(a, 0, 64, 1);
  const b = slots.subarray(1504);
  fillFrame(b, 0, 200, 2);
  const gcs = await countGcs((i) => {
    h.dev.transmit(i & 1 ? b : a, i & 1 ? 200 : 64, 0);
    if ((i & 15) === 15) h.pump();
  }, 200_000);
  assert.equal(gcs, 0);
  assert.ok(n > 200_000);
  assert.equal(bad, 0);
  assert.deepEqual(h.fatals, []);
});

test("the hot path allocates nothing per frame: 1500 B and multi-slot 9000 B (backend copies left out)", async () => {
  // GrantOps.copy makes one short view per copy above 2 KiB (wire/copy.ts), which is the
  // hypervisor's side, not netfront's: the backend answers and echoes without the bytes.
  const h = new Harness({ copy: false });
  let n = 0;
  h.dev.onReceive(() => n++);
  const slots = new Uint8Array(1504 + 9000);
  const a = slots.subarray(0, 1504);
  const b = slots.subarray(1504);
  const gcs = await countGcs((i) => {
    h.dev.transmit(i & 1 ? b : a, i & 1 ? 9000 : 1500, 0);
    if ((i & 7) === 7) h.pump();
  }, 100_000);
  assert.equal(gcs, 0);
  assert.ok(n > 100_000);
  assert.deepEqual(h.fatals, []);
});

test("property: random sizes and flags arrive intact or are counted", () => {
  const h = new Harness({ queues: 2 });
  const got = receiver(h);
  const buf = new Uint8Array(65536);
  let seq = 0;
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          len: fc.oneof(
            fc.integer({ min: 0, max: 200 }),
            fc.integer({ min: 4000, max: 4200 }),
            fc.integer({ min: 0, max: 70_000 }),
          ),
          flags: fc.integer({ min: 0, max: 15 }),
          gso: fc.constantFrom(0, 0, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6, 3),
          mss: fc.integer({ min: 0, max: 2000 }),
        }),
        { maxLength: 40 },
      ),
      (frames) => {
        got.length = 0;
        const c0 = h.dev.counters(0)?.get("tx_dropped") ?? 0;
        const c1 = h.dev.counters(1)?.get("tx_dropped") ?? 0;
        const want: [number, number, number][] = [];
        let dropped = 0;
        for (const f of frames) {
          const len = Math.min(f.len, buf.length);
          if (len >= 18) fillFrame(buf, 0, len, seq);
          else buf.fill(0, 0, 18);
          const ok =
            len >= 14 && len <= 65535 && (f.gso === 0 || ((f.gso === 1 || f.gso === 2) && f.mss > 0));
          assert.ok(h.dev.transmitGso(buf, len, f.flags, f.gso, f.mss));
          if (ok) {
            const rxFlags = (f.flags & 1 ? 3 : 0) | (f.flags & 2 ? 1 : 0);
            want.push([len >= 18 ? seq : -1, len, rxFlags]);
          } else dropped++;
          seq++;
          h.pump();
        }
        assert.deepEqual(
          got.map((g) => [g.seq, g.len, g.flags]),
          want,
        );
        const d =
          (h.dev.counters(0)?.get("tx_dropped") ?? 0) - c0 + (h.dev.counters(1)?.get("tx_dropped") ?? 0) - c1;
        assert.equal(d, dropped);
        assert.deepEqual(h.fatals, []);
      },
    ),
    { numRuns: 150 },
  );
  assert.equal(h.close(), 0);
  assert.equal(h.grants.liveGrants, 0);
});

/**
 * XSA-403. The backend writes over each frame, through the grants it still holds, while
 * the receive callback runs: what the callback saw must be what was delivered when the
 * backend is not trusted; a trusted backend's single-slot frames are read in place.
 */
function rewriteDuringDelivery(
  trusted: boolean,
  sizes: readonly number[],
): { stable: number; bounced: number } {
  const h = new Harness({ trusted });
  let stable = 0;
  h.dev.onReceive((b, off, len) => {
    const before = b.slice(off, off + len);
    h.echo[0].rewriteLastRx(h.backMem, 0xee);
    if (Buffer.compare(before, b.subarray(off, off + len)) === 0) stable++;
  });
  const buf = new Uint8Array(65536);
  for (let i = 0; i < sizes.length; i++) {
    fillFrame(buf, 0, sizes[i], i);
    assert.ok(h.dev.transmit(buf, sizes[i], 0));
    h.pump();
  }
  assert.deepEqual(h.fatals, []);
  const c = h.dev.counters(0)?.snapshot();
  assert.equal(c?.rx_packets, sizes.length);
  assert.equal(h.close(), 0);
  return { stable, bounced: c?.rx_bounced ?? -1 };
}

test("trusted=0: a backend rewriting RX pages during delivery changes nothing the receiver sees; every frame bounced", () => {
  const sizes = [60, 100, 1514, 4096, 4097, 9000, 65_535];
  const r = rewriteDuringDelivery(false, sizes);
  assert.deepEqual(r, { stable: sizes.length, bounced: sizes.length });
});

test("trusted=1: single-slot frames go up in place (zero copy, so the rewrite shows); none bounced", () => {
  const single = [60, 100, 1514, 4096];
  const r = rewriteDuringDelivery(true, [...single, 9000]);
  // The multi-slot frame is gathered in both modes; the single-slot ones are read in place.
  assert.deepEqual(r, { stable: 1, bounced: 0 });
});

/** Runs of 32 bytes of the guest's old contents in a page the backend can read. */
function secretRuns(page: Uint8Array, secret: number): number {
  let runs = 0;
  let n = 0;
  for (const b of page) {
    n = b === secret ? n + 1 : 0;
    if (n === 32) runs++;
  }
  return runs;
}

test("trusted=0: buffer pages are zeroed before they are granted; the backend reads nothing of the guest's but frames", () => {
  const leaks = (trusted: boolean): { pages: number; leaking: number } => {
    const h = new Harness({ trusted, prefill: 0xa5, device: { txBuffers: 64, rxBuffers: 64 } });
    let n = 0;
    h.dev.onReceive(() => n++);
    const buf = new Uint8Array(200);
    for (let i = 0; i < 10; i++) {
      fillFrame(buf, 0, 200, i);
      assert.ok(h.dev.transmit(buf, 200, 0));
      h.pump();
    }
    assert.equal(n, 10);
    const seen = h.grantedToBackend();
    let leaking = 0;
    for (const page of seen.values()) if (secretRuns(page, 0xa5) > 0) leaking++;
    h.close();
    return { pages: seen.size, leaking };
  };
  const untrusted = leaks(false);
  // 64 TX pages, the 4 pages of 64 small TX buffers (these 200-byte frames use them), 64 RX.
  assert.equal(untrusted.pages, 64 + 4 + 64, "the TX and RX pools are granted");
  assert.equal(untrusted.leaking, 0);
  // The same scan finds the guest's old bytes when pages are granted as they come.
  assert.equal(leaks(true).leaking, 64 + 4 + 64);
});

test("a queue closed under frames the backend never answered counts them in tx_unanswered", () => {
  const h = new Harness();
  h.echo[0].hold = true;
  const buf = new Uint8Array(9000);
  fillFrame(buf, 0, 100, 0);
  for (let i = 0; i < 5; i++) assert.ok(h.dev.transmit(buf, 100, 0));
  fillFrame(buf, 0, 9000, 5);
  assert.ok(h.dev.transmit(buf, 9000, 0), "a three-slot frame");
  h.pump();
  const c = h.dev.counters(0);
  assert.equal(c?.get("tx_unanswered"), 0);
  h.queues[0].close();
  assert.equal(c?.get("tx_unanswered"), 5 + 3, "every slot in flight");
  h.queues[0].close();
  assert.equal(c?.get("tx_unanswered"), 8, "counted once");
});

test("property, trusted=0: whatever sizes, a backend rewriting every frame during delivery never changes what the receiver reads", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 60, max: 65_535 }), { minLength: 1, maxLength: 12 }), (sizes) => {
      const h = new Harness({ trusted: false, device: { txBuffers: 64, rxBuffers: 64 } });
      const seqs: number[] = [];
      h.dev.onReceive((b, off, len) => {
        h.echo[0].rewriteLastRx(h.backMem, 0xee);
        seqs.push(checkFrame(b, off, len));
      });
      const buf = new Uint8Array(65_536);
      for (let i = 0; i < sizes.length; i++) {
        fillFrame(buf, 0, sizes[i], i);
        assert.ok(h.dev.transmit(buf, sizes[i], 0));
        h.pump();
      }
      assert.deepEqual(
        seqs,
        sizes.map((_, i) => i),
      );
      assert.equal(h.dev.counters(0)?.get("rx_bounced"), sizes.length);
      assert.equal(h.close(), 0);
    }),
    { numRuns: 40 },
  );
});
