import assert from "node:assert/strict";
import { test } from "node:test";
import { Machine } from "../../src/hv/machine.js";
import {
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
} from "../../src/wire/xen/netif.js";
import { ALL_FEATURES } from "./harness.js";
import type { GuestArgs, PlanEntry } from "./programs/nb-guest.js";

const program = (p: string) => new URL(p, import.meta.url);

type Report = { t: string; [k: string]: unknown };

/** Boots Domain-0 and the guests; returns helpers to wait for reports. */
async function boot(guests: Omit<GuestArgs, "peer">[], peers: number[]) {
  const m = new Machine();
  const reports: { from: number; r: Report }[] = [];
  const errors: string[] = [];
  m.on("report", (from: number, r: Report) => reports.push({ from, r }));
  m.on("domain-failed", (id: number, e: Error) => errors.push(`dom${id}: ${e.message}`));
  await m.createDomain({ name: "Domain-0", pages: 512, program: program("./programs/nb-dom0.js"), args: {} });
  const ids: number[] = [];
  for (const [i, g] of guests.entries())
    ids.push(
      await m.createDomain({
        name: `g${i}`,
        pages: 1100,
        program: program("./programs/nb-guest.js"),
        args: { ...g, peer: peers[i] } satisfies GuestArgs,
      }),
    );
  const wait = async (what: string, ok: (x: { from: number; r: Report }) => boolean, ms = 8000) => {
    const t0 = Date.now();
    for (;;) {
      const hit = reports.find(ok);
      if (hit) return hit.r;
      if (errors.length > 0) assert.fail(errors.join("; "));
      const err = reports.find((x) => x.r.t === "error");
      if (err) assert.fail(String(err.r.message));
      if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  for (const id of ids) await wait(`guest ${id} ready`, (x) => x.from === id && x.r.t === "ready");
  const stats = async (t = "stats") => {
    const n = reports.length;
    m.post(0, { t });
    const want = t === "stats" ? "stats" : "torn";
    const r = await wait(want, (x) => x.from === 0 && x.r.t === want && reports.indexOf(x) >= n);
    return r as unknown as {
      vifs: Record<number, Record<string, number> & { backlog: { frames: number; bytes: number } }>;
      liveMappings: number;
    };
  };
  return { m, ids, reports, errors, wait, stats };
}

const SIZES = [60, 64, 128, 129, 1514, 4096, 4097, 9000, 20000, 40000, 65535];

test("workers: A -> VALE -> B, 60 B to 64 KiB with SG and GSO extras, checksum flags; a silent guest and a fatal one change nothing for them", async () => {
  const plan: PlanEntry[] = [
    ...SIZES.map((len) => ({ len })),
    ...SIZES.map((len) => ({ len, slotBytes: 4000, tcp: true, flags: NETTXF_data_validated })),
    { len: 1000, flags: NETTXF_csum_blank, tcp: true },
    { len: 1000, flags: NETTXF_csum_blank, v6: true },
    { len: 60000, tcp: true, flags: NETTXF_csum_blank, gsoType: XEN_NETIF_GSO_TYPE_TCPV4, gsoSize: 1448 },
    {
      len: 60000,
      tcp: true,
      v6: true,
      flags: NETTXF_csum_blank,
      gsoType: XEN_NETIF_GSO_TYPE_TCPV6,
      gsoSize: 1400,
    },
  ];
  const count = plan.length * 20;
  // Domain ids: 1 = A, 2 = B, 3 = silent C, 4 = evil D.
  const { m, wait, stats } = await boot(
    [
      { role: "sender", features: ALL_FEATURES, plan, count, expect: 0 },
      // A backlog big enough that nothing is lost: every frame is accounted for by content.
      { role: "receiver", features: ALL_FEATURES, plan, count: 0, expect: count, backlog: 1 << 24 },
      { role: "silent", features: ALL_FEATURES, plan: [], count: 0, expect: 0, backlog: 8192 },
      { role: "evil", features: ALL_FEATURES, plan: [], count: 0, expect: 0 },
    ],
    [2, 1, 1, 1],
  );
  try {
    m.post(4, { t: "go" });
    const fatal = await wait("the fatal report", (x) => x.r.t === "fatal");
    assert.equal(fatal.domid, 4);
    assert.match(String(fatal.reason), /Cross page boundary/);
    m.post(1, { t: "go" });
    const tx = await wait("tx-done", (x) => x.r.t === "tx-done", 20000);
    const rx = await wait("rx-done", (x) => x.r.t === "rx-done", 20000);
    assert.equal(rx.bad, 0, String(rx.badWhy));
    assert.equal(rx.frames, count);
    assert.equal(rx.gso, 40, "GSO frames arrived with their extra");
    const flags = rx.flags as Record<number, number>;
    assert.equal(flags[3], 80, "csum_blank frames (incl. GSO) arrive csum_blank|data_validated");
    assert.equal(flags[1], SIZES.length * 20, "data_validated passes through");
    assert.equal(tx.answered, tx.requests, "every TX request answered");
    // Data slots OKAY; each GSO extra slot NULL.
    assert.deepEqual(tx.statuses, { [NETIF_RSP_OKAY]: (tx.requests as number) - 40, [NETIF_RSP_NULL]: 40 });
    const s = await stats();
    // The silent guest's frames (the broadcasts it heard) were queued or dropped, counted.
    assert.ok(s.vifs[3].tx_dropped + s.vifs[3].backlog.frames >= 1);
    assert.ok(s.vifs[3].backlog.bytes <= 8192);
    assert.equal(s.vifs[4].tx_fatal, 1);
    assert.equal(s.vifs[1].rx_packets, count + 1, "what A sent, received by its vif");
    const heard = s.vifs[2].tx_packets - count;
    assert.ok(heard >= 1 && heard <= 3, "B got A's frames and the announcements made after it joined");
    assert.equal(s.liveMappings, 2 * 3, "nothing mapped but the rings of the three live vifs");
    const torn = await stats("teardown");
    assert.equal(torn.liveMappings, 0, "zero live mappings once the vifs are closed");
    const ms = tx.ms as number;
    process.stdout.write(
      `# netback workers: ${count} frames (${plan.length}-frame mix up to 64 KiB) in ${ms.toFixed(0)} ms: ${((count / ms) * 1000).toFixed(0)} frames/s\n`,
    );
  } finally {
    await m.shutdown();
  }
});

test("workers: software GSO for a receiver without GSO: every segment checksummed, every byte there", async () => {
  const noGso = { ...ALL_FEATURES, gsoTcpv4: false, gsoTcpv6: false };
  const plan: PlanEntry[] = [
    { len: 30000, tcp: true, flags: NETTXF_csum_blank, gsoType: XEN_NETIF_GSO_TYPE_TCPV4, gsoSize: 1448 },
    { len: 64 },
    {
      len: 20000,
      tcp: true,
      v6: true,
      flags: NETTXF_csum_blank,
      gsoType: XEN_NETIF_GSO_TYPE_TCPV6,
      gsoSize: 1000,
    },
  ];
  const count = 300;
  const segs4 = Math.ceil((30000 - 54) / 1448);
  const segs6 = Math.ceil((20000 - 74) / 1000);
  const expect = 100 * (segs4 + 1 + segs6);
  const { m, wait } = await boot(
    [
      { role: "sender", features: ALL_FEATURES, plan, count, expect: 0 },
      { role: "receiver", features: noGso, plan, count: 0, expect, backlog: 1 << 24 },
    ],
    [2, 1],
  );
  try {
    m.post(1, { t: "go" });
    await wait("tx-done", (x) => x.r.t === "tx-done", 20000);
    const rx = await wait("rx-done", (x) => x.r.t === "rx-done", 20000);
    assert.equal(rx.bad, 0, String(rx.badWhy));
    assert.equal(rx.segments, 100 * (segs4 + segs6));
    assert.equal(rx.gso, 0);
  } finally {
    await m.shutdown();
  }
});

test("workers: 64 B frames guest to guest, every one delivered and answered (frames/s printed)", async () => {
  const plan: PlanEntry[] = [{ len: 64 }];
  const count = 20000;
  const { m, wait, stats } = await boot(
    [
      { role: "sender", features: ALL_FEATURES, plan, count, expect: 0 },
      { role: "receiver", features: ALL_FEATURES, plan, count: 0, expect: count, backlog: 1 << 22 },
    ],
    [2, 1],
  );
  try {
    m.post(1, { t: "go" });
    const tx = await wait("tx-done", (x) => x.r.t === "tx-done", 30000);
    const rx = await wait("rx-done", (x) => x.r.t === "rx-done", 30000);
    assert.equal(rx.bad, 0, String(rx.badWhy));
    assert.equal(rx.frames, count);
    assert.equal(tx.answered, tx.requests);
    const s = await stats();
    assert.equal(s.vifs[2].tx_dropped, 0);
    const ms = tx.ms as number;
    process.stdout.write(
      `# netback workers: ${count} frames of 64 B in ${ms.toFixed(0)} ms: ${((count / ms) * 1000).toFixed(0)} frames/s\n`,
    );
  } finally {
    await m.shutdown();
  }
});
