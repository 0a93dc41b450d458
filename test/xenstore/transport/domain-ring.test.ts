import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Machine } from "../../../src/hv/machine.js";
import { type Mem, sharedMem } from "../../../src/wire/mem.js";
import {
  XENSTORE_CONNECTED,
  XENSTORE_ERROR_COMM,
  XENSTORE_ERROR_NONE,
  XENSTORE_ERROR_PROTO,
  XENSTORE_ERROR_RINGIDX,
  XENSTORE_RECONNECT,
  xsConnection,
  xsError,
  xsReqCons,
  xsRspProd,
  xsServerFeatures,
  xsSetConnection,
  xsSetReqProd,
  xsSetRspCons,
  xsSetRspProd,
} from "../../../src/wire/xen/xs-ring.js";
import { XS_READ, xsMsgBytes } from "../../../src/wire/xen/xs-wire.js";
import { XsClient } from "../../../src/xenstore/client.js";
import { Xenstored } from "../../../src/xenstore/daemon.js";
import { domainPath } from "../../../src/xenstore/keys.js";
import { XS_RING_SERVER_FEATURES, XsRingServer } from "../../../src/xenstore/transport/domain-ring.js";
import { loopbackTransport } from "../../../src/xenstore/transport/loopback.js";
import { XsRingTransport } from "../../../src/xenstore/transport/ring-client.js";

const PAGE_AT = 4096; // the page sits at a nonzero offset, as a mapped grant does

interface Pair {
  m: Mem;
  server: XsRingServer;
  transport: XsRingTransport;
  client: XsClient;
  /** Set false to stop waking the guest (a guest that no longer reads). */
  wakeGuest: boolean;
}

/** A daemon with a toolstack client, and guest homes for `domids`. */
async function setup(domids: number[]): Promise<{ daemon: Xenstored; tool: XsClient; lines: string[] }> {
  const lines: string[] = [];
  const daemon = new Xenstored({ log: (l) => lines.push(l) });
  const tool = new XsClient(loopbackTransport(daemon));
  for (const d of domids) {
    await tool.mkdir(domainPath(d));
    await tool.setPerms(domainPath(d), [{ letter: "n", domid: d }]);
    daemon.introduceDomain(d);
  }
  return { daemon, tool, lines };
}

/** A guest page served in this thread; events are delivered with setImmediate, as a loop would. */
function pair(daemon: Xenstored, domid: number, opts: { maxQueueBytes?: number; log?: string[] } = {}): Pair {
  const m = sharedMem(PAGE_AT + 4096);
  const p = { m, wakeGuest: true } as Pair;
  p.server = new XsRingServer(daemon, {
    m,
    at: PAGE_AT,
    domid,
    notify: () => void setImmediate(() => p.wakeGuest && p.transport.kick()),
    maxQueueBytes: opts.maxQueueBytes,
    log: (l) => opts.log?.push(l),
  });
  p.transport = new XsRingTransport({
    m,
    at: PAGE_AT,
    notify: () => void setImmediate(() => p.server.kick()),
  });
  p.client = new XsClient(p.transport);
  return p;
}

test("a guest client over its ring page reads and writes relative to its home, many requests in flight", async () => {
  const { daemon } = await setup([5]);
  const g = pair(daemon, 5);
  assert.equal(xsServerFeatures(g.m, PAGE_AT), XS_RING_SERVER_FEATURES);
  const big = "v".repeat(900); // messages larger than half the ring: every one wraps or waits
  await Promise.all(Array.from({ length: 100 }, (_, i) => g.client.write(`k${i}`, `${i}${big}`)));
  const got = await Promise.all(
    Array.from({ length: 100 }, (_, i) => g.client.read(`${domainPath(5)}/k${i}`)),
  );
  assert.deepEqual(
    got,
    got.map((_, i) => `${i}${big}`),
  );
  assert.equal((await g.client.directory(domainPath(5))).length, 100);
  await assert.rejects(g.client.read("/local/domain/0/name"), { code: "EACCES" });
  assert.equal(xsError(g.m, PAGE_AT), XENSTORE_ERROR_NONE);
});

test("impossible ring indices set XENSTORE_ERROR_RINGIDX and stop that guest only", async () => {
  const { daemon, tool } = await setup([5, 6]);
  const lines: string[] = [];
  const evil = pair(daemon, 5, { log: lines });
  const good = pair(daemon, 6);
  await evil.client.write("a", "1");
  xsSetReqProd(evil.m, PAGE_AT, xsReqCons(evil.m, PAGE_AT) + 2000);
  evil.server.kick();
  assert.equal(xsError(evil.m, PAGE_AT), XENSTORE_ERROR_RINGIDX);
  assert.match(evil.server.stopped ?? "", /impossible req ring indices/);
  assert.match(lines.join("\n"), /guest 5 no longer served/);
  assert.equal(await good.client.read(domainPath(6)), "");
  await good.client.write("b", "2");
  assert.equal(await tool.read("/local/domain/6/b"), "2");

  // rsp_cons moved past what was produced: same verdict on the other ring.
  const evil2 = pair(daemon, 7);
  const pending = evil2.client.read("x").catch(() => undefined);
  // The request is in the ring; now the guest claims to have consumed replies never produced.
  xsSetRspCons(evil2.m, PAGE_AT, 5000);
  await new Promise((r) => setImmediate(r));
  void pending;
  assert.equal(xsError(evil2.m, PAGE_AT), XENSTORE_ERROR_RINGIDX);
});

test("a header declaring more than 4096 payload bytes sets XENSTORE_ERROR_PROTO", async () => {
  const { daemon } = await setup([5]);
  const g = pair(daemon, 5);
  const msg = xsMsgBytes({ type: XS_READ, reqId: 1, txId: 0, payload: new Uint8Array(0) });
  new DataView(msg.buffer).setUint32(12, 5000, true);
  g.transport.send(msg);
  await new Promise((r) => setImmediate(r));
  assert.equal(xsError(g.m, PAGE_AT), XENSTORE_ERROR_PROTO);
  assert.match(g.server.stopped ?? "", /protocol error/);
});

test("XENSTORE_RECONNECT resets the rings, drops the watches and serves the guest again", async () => {
  const { daemon, tool } = await setup([5]);
  const g = pair(daemon, 5);
  const w = await g.client.watch("w", "tok");
  xsSetReqProd(g.m, PAGE_AT, 99999); // broken first
  g.server.kick();
  assert.equal(xsError(g.m, PAGE_AT), XENSTORE_ERROR_RINGIDX);
  g.wakeGuest = false;
  g.client.close();
  await w.close().catch(() => undefined);
  xsSetConnection(g.m, PAGE_AT, XENSTORE_RECONNECT);
  g.server.kick();
  assert.equal(xsConnection(g.m, PAGE_AT), XENSTORE_CONNECTED);
  assert.equal(xsError(g.m, PAGE_AT), XENSTORE_ERROR_NONE);
  assert.equal(g.server.stopped, undefined);
  assert.equal(g.server.stats.reconnects, 1);
  // The old watch is gone: a change below it queues nothing for the guest.
  await tool.write(`${domainPath(5)}/w`, "x");
  assert.equal(xsRspProd(g.m, PAGE_AT), 0);
  // A fresh guest-side transport on the reset page; the daemon's notifications now wake it.
  g.transport = new XsRingTransport({
    m: g.m,
    at: PAGE_AT,
    notify: () => void setImmediate(() => g.server.kick()),
  });
  g.wakeGuest = true;
  assert.equal(await new XsClient(g.transport).read("w"), "x");
  assert.equal(g.server.stats.reconnects, 1);
});

test("the guest side closes with a reason, without throwing, when the daemon's indices are impossible", async () => {
  const { daemon } = await setup([5]);
  const g = pair(daemon, 5);
  await g.client.write("a", "1");
  g.wakeGuest = false;
  const pending = g.client.read("a");
  xsSetRspProd(g.m, PAGE_AT, 7777);
  g.transport.kick();
  assert.match(g.transport.closed ?? "", /impossible rsp ring indices/);
  await assert.rejects(pending, { code: "EIO" });
});

test("a guest that stops taking events is closed as a slow reader; the daemon carries on", async () => {
  const { daemon, tool, lines } = await setup([5, 6]);
  const slow = pair(daemon, 5, { maxQueueBytes: 4096 });
  const other = pair(daemon, 6);
  const w = await slow.client.watch(domainPath(5), "t");
  slow.wakeGuest = false;
  // Changes in the slow guest's home (readable by it) made by other connections.
  for (let i = 0; i < 300; i++) await tool.write(`${domainPath(5)}/n${i}`, "x");
  await other.client.write("n299", "x");
  assert.equal(xsError(slow.m, PAGE_AT), XENSTORE_ERROR_COMM);
  assert.match(slow.server.stopped ?? "", /slow reader/);
  assert.ok(slow.server.queuedBytes === 0, "the queue was dropped with the connection");
  assert.equal(await tool.read(`${domainPath(6)}/n299`), "x");
  assert.ok(lines.some((l) => l.includes("slow reader")));
  void w;
});

test("work per kick is bounded: the rest is deferred", async () => {
  const { daemon } = await setup([5]);
  const m = sharedMem(PAGE_AT + 4096);
  const deferred: (() => void)[] = [];
  const server = new XsRingServer(daemon, {
    m,
    at: PAGE_AT,
    domid: 5,
    notify: () => {},
    budget: 64,
    defer: (fn) => deferred.push(fn),
  });
  const t = new XsRingTransport({ m, at: PAGE_AT, notify: () => {} });
  const c = new XsClient(t);
  const reads = Array.from({ length: 20 }, () => c.read("x").catch(() => "ENOENT"));
  server.kick();
  assert.equal(deferred.length, 1, "one continuation was scheduled");
  assert.ok(server.stats.reqBytes <= 64 + 1024, `read ${server.stats.reqBytes} bytes in one kick`);
  for (let i = 0; i < 200 && (deferred.length > 0 || t.closed === undefined); i++) {
    deferred.shift()?.();
    t.kick();
    server.kick();
    if ((await Promise.race([Promise.all(reads), Promise.resolve(null)])) !== null) break;
  }
  assert.deepEqual(await Promise.all(reads), Array(20).fill("ENOENT"));
});

test("fuzz: garbage written anywhere in a guest's page never throws; other guests keep working", async () => {
  const { daemon, tool } = await setup([5, 6]);
  const good = pair(daemon, 6);
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.record({ off: fc.integer({ min: 0, max: 2075 }), bytes: fc.uint8Array({ maxLength: 64 }) }),
          fc.record({ word: fc.integer({ min: 0, max: 6 }), value: fc.integer({ min: 0, max: 0xffffffff }) }),
        ),
        { maxLength: 12 },
      ),
      async (ops) => {
        const g = pair(daemon, 5);
        await g.client.write("pre", "1").catch(() => undefined);
        for (const op of ops) {
          if ("off" in op) g.m.u8.set(op.bytes.subarray(0, 2076 - op.off), PAGE_AT + op.off);
          else g.m.u32[(PAGE_AT + 2048 + 4 * op.word) >>> 2] = op.value;
          g.server.kick();
        }
        g.wakeGuest = false;
        if (g.server.stopped === undefined) assert.ok(g.server.queuedBytes <= 256 * 1024);
        g.server.close("test done");
        assert.equal(await good.client.read("x").catch((e: { code: string }) => e.code), "ENOENT");
      },
    ),
    { numRuns: 150, seed: 0x5eed },
  );
  await good.client.write("after", "ok");
  assert.equal(await tool.read(`${domainPath(6)}/after`), "ok");
});

async function bootGuest(): Promise<{ m: Machine; reports: { d: number; x: Record<string, unknown> }[] }> {
  const m = new Machine();
  const reports: { d: number; x: Record<string, unknown> }[] = [];
  m.on("report", (d: number, x: Record<string, unknown>) => reports.push({ d, x }));
  const program = (p: string) => new URL(`../programs/${p}.js`, import.meta.url);
  await m.createDomain({ name: "Domain-0", pages: 64, program: program("xs-dom0") });
  await m.createDomain({ name: "guest", pages: 64, program: program("xs-guest") });
  return { m, reports };
}

async function until<T>(f: () => T | undefined, ms = 2500): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("a guest worker uses xenstore over its ring: home-relative paths, EACCES, a transaction, a watch", async () => {
  const { m, reports } = await bootGuest();
  try {
    const find = (t: string) => reports.find((r) => r.x.t === t)?.x;
    const w = await until(() => find("watching") ?? find("error"));
    assert.equal(w.t, "watching", JSON.stringify(w));
    assert.deepEqual(w.r, {
      home: "/local/domain/1",
      domid: "1",
      rel: "hello",
      abs: "hello",
      dir: ["x"],
      secret: "EACCES",
      txn: "1,hello",
      initial: "data/w",
    });
    m.post(0, { t: "write", path: "/local/domain/1/data/w", value: "from dom0" });
    const fired = await until(() => find("watch-fired"));
    assert.deepEqual(fired, { t: "watch-fired", path: "data/w", token: "tok" });
  } finally {
    await m.shutdown();
  }
});

test("destroying the guest fires @releaseDomain for a Domain-0 watcher", async () => {
  const { m, reports } = await bootGuest();
  try {
    const released = () => reports.filter((r) => r.x.t === "release-event");
    await until(() =>
      released().length >= 1 && reports.some((r) => r.x.t === "watching") ? true : undefined,
    );
    assert.equal(released().length, 1, "only the initial event so far");
    await m.destroyDomain(1);
    await until(() => (released().length >= 2 ? true : undefined));
    assert.equal(released()[1].x.path, "@releaseDomain");
  } finally {
    await m.shutdown();
  }
});

test("Domain-0 refuses a guest that has not granted its xenstore page", async () => {
  const m = new Machine();
  const reports: Record<string, unknown>[] = [];
  m.on("report", (_d: number, x: Record<string, unknown>) => reports.push(x));
  try {
    const program = (p: string) => new URL(`../programs/${p}.js`, import.meta.url);
    await m.createDomain({ name: "Domain-0", pages: 64, program: program("xs-dom0") });
    await m.createDomain({ name: "rude", pages: 16, program: program("xs-no-grant") });
    const a = await until(() => reports.find((r) => r.t === "answer"));
    assert.equal(a.from, 0);
    const data = a.data as { t: string; reason: string };
    assert.equal(data.t, "xs-refused");
    assert.match(data.reason, /cannot map the xenstore page/);
  } finally {
    await m.shutdown();
  }
});

test("XS_INTRODUCE from the toolstack sets the guest's ring up, as xl does; requests queued before are served", async () => {
  const m = new Machine();
  const reports: Record<string, unknown>[] = [];
  m.on("report", (_d: number, x: Record<string, unknown>) => reports.push(x));
  try {
    const program = (p: string) => new URL(`../programs/${p}.js`, import.meta.url);
    await m.createDomain({ name: "Domain-0", pages: 64, program: program("xs-dom0") });
    const g = await m.createDomain({ name: "guest", pages: 64, program: program("xs-guest-announce") });
    const port = await until(() => reports.find((r) => r.t === "store-port"));
    await until(() => reports.find((r) => r.t === "queued"));
    await new Promise((r) => setTimeout(r, 30));
    // The request is in the ring, yet Domain-0 has no server for the guest and has mapped
    // nothing of it: nothing can have been served. (Counted before and after INTRODUCE.)
    m.post(0, { t: "stats" });
    const before = await until(() => reports.find((r) => r.t === "stats"));
    assert.deepEqual([before.maps, before.guests], [0, []]);
    assert.equal(
      reports.find((r) => r.t === "result"),
      undefined,
      "nothing is served before INTRODUCE",
    );
    m.post(0, { t: "introduce", domid: g, port: port.port });
    await until(() => reports.find((r) => r.t === "introduced") ?? reports.find((r) => r.t === "error"));
    const res = await until(() => reports.find((r) => r.t === "result"));
    assert.deepEqual(res, { t: "result", value: "world", home: `/local/domain/${g}` });
    // Positive control: the same count shows the guest once it is served.
    const n = reports.length;
    m.post(0, { t: "stats" });
    const after = await until(() => reports.slice(n).find((r) => r.t === "stats"));
    assert.deepEqual([after.maps, after.guests], [1, [g]]);
  } finally {
    await m.shutdown();
  }
});

test("a guest that does not take its replies is not read further (quota-outstanding), then catches up", async () => {
  const { daemon } = await setup([8]);
  const p = pair(daemon, 8);
  p.wakeGuest = false;
  const pending = Array.from({ length: 200 }, (_, i) =>
    p.client.read(`nope${i}`).catch((e: Error) => e.message),
  );
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  const served = p.server.stats.requests;
  assert.ok(served > 0 && served < 200, `the daemon read ${served} of 200 requests while no reply was taken`);
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(p.server.stats.requests, served, "and reads no more until replies are taken");
  p.wakeGuest = true;
  p.transport.kick();
  const answers = await Promise.all(pending);
  assert.equal(answers.length, 200);
  assert.ok(answers.every((a) => /ENOENT/.test(String(a))));
});

test("guests destroyed while Domain-0 attaches them leave no mapping and no server; the next guest is served", async () => {
  const m = new Machine();
  const reports: { d: number; x: Record<string, unknown> }[] = [];
  m.on("report", (d: number, x: Record<string, unknown>) => reports.push({ d, x }));
  try {
    const program = (p: string) => new URL(`../programs/${p}.js`, import.meta.url);
    await m.createDomain({ name: "Domain-0", pages: 64, program: program("xs-dom0") });
    const stats = async (): Promise<{ maps: number; guests: number[] }> => {
      const n = reports.length;
      m.post(0, { t: "stats" });
      const r = await until(() => reports.slice(n).find((r) => r.x.t === "stats"));
      const { maps, guests } = r.x as unknown as { maps: number; guests: number[] };
      return { maps, guests };
    };
    for (let i = 0; i < 6; i++) {
      const id = await m.createDomain({ name: `doomed${i}`, pages: 16, program: program("xs-guest") });
      // Sometimes before Domain-0 maps the page, sometimes during its awaits, sometimes after.
      await new Promise((r) => setTimeout(r, i * 2));
      await m.destroyDomain(id);
    }
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await stats(), { maps: 0, guests: [] });
    const good = await m.createDomain({ name: "good", pages: 16, program: program("xs-guest") });
    const r = await until(() => reports.find((r) => r.d === good && r.x.t === "watching"));
    assert.equal((r.x as { r: { rel?: string } }).r.rel, "hello");
    assert.deepEqual(await stats(), { maps: 1, guests: [good] });
  } finally {
    await m.shutdown();
  }
});
