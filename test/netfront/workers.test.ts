import assert from "node:assert/strict";
import { test } from "node:test";
import { Machine } from "../../src/hv/machine.js";
import { netfrontQueueCounters } from "../../src/netfront/counters.js";
import {
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
} from "../../src/wire/xen/netif.js";
import type { Hostile } from "./echo-queue.js";
import type { GuestArgs, Received, TxFrame } from "./programs/nf-guest.js";

const program = (p: string) => new URL(p, import.meta.url);

interface Result {
  complete?: boolean;
  received: Received[];
  fatals: string[];
  counters: Record<string, number>[];
  echo: { frames: number; bytes: number; gso: number; errors: number }[];
  notEnded: number;
  liveAfterClose: number;
  backMappings: number;
  ringsNotEnded: number;
  liveGrants: number;
  handlerErrors: number;
  counterBuffers: SharedArrayBuffer[];
  [k: string]: unknown;
}

/** Domain-0 with the echo backend, one guest running `args`; returns the guest's result. */
async function run(args: GuestArgs): Promise<Result> {
  const m = new Machine();
  const failed: string[] = [];
  m.on("domain-failed", (id, e: Error) => failed.push(`dom${id}: ${e.message}`));
  try {
    await m.createDomain({ name: "Domain-0", pages: 64, program: program("./programs/echo-back.js") });
    // The guest may report before createDomain resolves: match on the report alone.
    const result = new Promise<Result>((resolve, reject) => {
      m.on("report", (from, x: Result & { t: string }) => from !== 0 && x.t === "result" && resolve(x));
      m.on("domain-failed", (id, e: Error) => reject(new Error(`dom${id} failed: ${e.message}`)));
    });
    await m.createDomain({
      name: "guest",
      pages: 2400,
      grantFrames: 6,
      program: program("./programs/nf-guest.js"),
      args,
    });
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      result,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("no result from the guest within 20 s")), 20_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.deepEqual(failed, [], "no domain failed");
    assert.equal(r.error, undefined, "the scenario ran to its end");
    // Every grant ended, the backend holds no mapping, and nothing threw in a handler.
    assert.equal(r.notEnded, 0);
    assert.equal(r.liveAfterClose, 0, "no buffer grant left after close");
    assert.equal(r.backMappings, 0);
    assert.equal(r.ringsNotEnded, 0);
    assert.equal(r.liveGrants, 0);
    assert.equal(r.handlerErrors, 0);
    return r;
  } finally {
    await m.shutdown();
  }
}

test("workers: frames of 60 B to 64 KiB with sg, checksum flags and GSO cross to Domain-0 and back intact", async () => {
  const frames: TxFrame[] = [];
  for (const len of [60, 61, 1514, 4095, 4096, 4097, 9000, 32_768, 65_535]) frames.push({ len, flags: 0 });
  for (let len = 60; len <= 65_535; len += 2741) frames.push({ len, flags: 0 });
  frames.push({ len: 1000, flags: NETTXF_csum_blank | NETTXF_data_validated });
  frames.push({ len: 1000, flags: NETTXF_data_validated });
  frames.push({
    len: 40_000,
    flags: NETTXF_csum_blank | NETTXF_data_validated,
    gso: XEN_NETIF_GSO_TYPE_TCPV4,
    mss: 1448,
  });
  frames.push({
    len: 9000,
    flags: NETTXF_csum_blank | NETTXF_data_validated,
    gso: XEN_NETIF_GSO_TYPE_TCPV6,
    mss: 1440,
  });
  for (const split of [false, true]) {
    const r = await run({ scenario: "echo", frames, split, order: split ? 1 : 0 });
    assert.ok(r.complete, `all echoed (${r.received.length}/${frames.length})`);
    assert.deepEqual(
      r.received.map((g) => [g.seq, g.len]),
      frames.map((f, i) => [i, f.len]),
    );
    const csum = NETRXF_csum_blank | NETRXF_data_validated;
    assert.deepEqual(
      r.received.slice(-4).map((g) => [g.flags, g.gsoType, g.gsoSize]),
      [
        [csum, 0, 0],
        [NETRXF_data_validated, 0, 0],
        [csum, XEN_NETIF_GSO_TYPE_TCPV4, 1448],
        [csum, XEN_NETIF_GSO_TYPE_TCPV6, 1440],
      ],
    );
    assert.equal(r.echo[0].gso, 2);
    assert.equal(r.counters[0].tx_packets, frames.length);
    assert.ok(r.counterBuffers[0] instanceof SharedArrayBuffer, "counters live in shared memory");
    const live = netfrontQueueCounters(r.counterBuffers[0]);
    assert.equal(live.get("tx_packets"), frames.length, "counters read from another thread");
    assert.equal(live.get("rx_bytes"), r.counters[0].rx_bytes);
    assert.equal(r.counters[0].rx_packets, frames.length);
    assert.deepEqual(r.fatals, []);
  }
});

test("workers: a held backend fills the ring; transmit says false, writable fires once it answers, nothing lost", async () => {
  const r = await run({ scenario: "ringfull", count: 700 });
  assert.equal(r.acceptedBeforeFull, 256, "the 256-buffer pool took 256 frames");
  assert.equal(r.writableWhileHeld, 0);
  assert.ok((r.writableAfterRelease as number) >= 1);
  assert.ok(r.complete, `all 700 echoed (${r.received.length})`);
  assert.equal(r.inOrder, true);
  assert.ok(r.counters[0].tx_ring_full >= 1);
  assert.equal(r.counters[0].tx_dropped, 0);
});

test("workers: four queues, every flow on the one queue its hash picks; all four used", async () => {
  const r = await run({ scenario: "multiqueue", queues: 4, split: true });
  const flows = r.flows as { want: number; diff: number[] }[];
  for (const f of flows)
    assert.deepEqual(
      f.diff,
      [0, 1, 2, 3].map((q) => (q === f.want ? 10 : 0)),
    );
  assert.equal(new Set(flows.map((f) => f.want)).size, 4);
  assert.ok(r.complete);
  assert.deepEqual(
    r.echo.map((e) => e.frames),
    [0, 1, 2, 3].map((q) => flows.filter((f) => f.want === q).length * 10),
  );
});

const HOSTILE: [Hostile, RegExp][] = [
  ["txBadId", /^tx: Response has incorrect id 40000$/],
  ["txDouble", /^tx: Response for inactive request \d+$/],
  ["txBadStatus", /^tx: Response \d+ has bad status 7$/],
  ["rxBadId", /^rx: Bad rx response id \d+$/],
  ["rxProd", /^rx: illegal number of responses/],
];

/** Bad packets, not a broken backend: Linux's netfront drops each and counts rx_errors. */
const DROPPED: Hostile[] = ["rxOffset", "rxBadExtra", "rxBadGso"];

for (const trusted of [false, true]) {
  test(`workers: a backend worker rewriting RX pages while the guest reads them, trusted=${trusted ? 1 : 0}`, async () => {
    const sizes = [60, 200, 1514, 4000];
    const r = await run({ scenario: "rewrite", trusted, frames: sizes.map((len) => ({ len, flags: 0 })) });
    assert.equal(r.complete, true);
    assert.equal(r.rewritten, sizes.length, "the backend rewrote every frame while it was being read");
    const c = r.counters[0];
    if (trusted) {
      // Zero copy: the guest read the backend's page in place, and saw it change.
      assert.equal(r.stable, 0);
      assert.equal(c.rx_bounced, 0);
    } else {
      assert.equal(r.stable, sizes.length, "the bytes read equal the bytes delivered");
      assert.equal(c.rx_bounced, sizes.length);
    }
  });
}

for (const hostile of DROPPED) {
  test(`workers: hostile backend ${hostile}: each packet dropped and counted, no fatal, the queue goes on`, async () => {
    const r = await run({ scenario: "hostile", hostile });
    assert.deepEqual(r.fatals, []);
    assert.equal(r.threw, "");
    // The three sent are dropped; the one sent after them (plain, so good unless the
    // hostile offset hits it too) when its echo came back in time.
    const { rx_errors: errors, rx_packets: packets } = r.counters[0];
    assert.ok(errors >= 3 && errors + packets <= 4, `rx_errors ${errors}, rx_packets ${packets}`);
    assert.equal(r.badDelivered, 0);
    assert.equal(r.sentAfterFatal, true, "the queue still takes frames");
    assert.equal(r.counters[0].fatal, 0);
  });
}

for (const [hostile, reason] of HOSTILE) {
  test(`workers: hostile backend ${hostile}: fatal callback with the reason; the guest lives, nothing throws`, async () => {
    const r = await run({ scenario: "hostile", hostile });
    assert.equal(r.fatals.length, 1, r.fatals.join("; "));
    assert.match(r.fatals[0], reason);
    assert.equal(r.threw, "");
    assert.equal(r.sentAfterFatal, false, "the stopped queue takes nothing");
    assert.equal(r.badDelivered, 0);
    assert.equal(r.counters[0].fatal, 1);
  });
}
