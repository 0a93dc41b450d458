import assert from "node:assert/strict";
import { existsSync, linkSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import fc from "fast-check";
import { PvnetError } from "../../../src/base/errors.js";
import {
  isXsNeedMore,
  joinXsStrings,
  parseXsMsg,
  XS_ERROR,
  XS_READ,
  XS_WRITE,
  type XsMsgRepr,
  xsMsgBytes,
} from "../../../src/wire/xen/xs-wire.js";
import { Xenstored } from "../../../src/xenstore/daemon.js";
import { XsFramer } from "../../../src/xenstore/transport/framer.js";
import {
  type XsConnection,
  type XsConnector,
  type XsSink,
  XsSocketServer,
} from "../../../src/xenstore/transport/socket.js";
import { FakeXenstored, text } from "../fake-xenstored.js";

const dir = mkdtempSync(join(tmpdir(), "pvnet-xs-sock-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let nSock = 0;
const sockPath = (): string => join(dir, `s${nSock++}.sock`);
const quiet = { log: (): void => {} };

function msg(type: number, reqId: number, strings: string[]): Uint8Array {
  return xsMsgBytes({ type, reqId, txId: 0, payload: joinXsStrings(strings) });
}

/** A raw client socket collecting whole reply messages. */
async function rawClient(path: string): Promise<{ s: Socket; replies: XsMsgRepr[]; closed: Promise<void> }> {
  const s = connect(path);
  await new Promise<void>((r, j) => {
    s.once("connect", r);
    s.once("error", j);
  });
  const replies: XsMsgRepr[] = [];
  const framer = new XsFramer();
  s.on("data", (c: Buffer) => framer.push(c, (m) => void replies.push(m)));
  s.on("error", () => {});
  const closed = new Promise<void>((r) => s.once("close", () => r()));
  return { s, replies, closed };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

test("XsFramer yields the same messages for any chunking of a valid stream", () => {
  const msgArb = fc.record({
    type: fc.integer({ min: 0, max: 30 }),
    reqId: fc.nat(),
    txId: fc.nat(),
    payload: fc.uint8Array({ maxLength: 300 }),
  });
  fc.assert(
    fc.property(
      fc.array(msgArb, { maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 64 })),
      (msgs, cuts) => {
        const stream = concat(msgs.map((m) => xsMsgBytes(m)));
        const framer = new XsFramer();
        const got: XsMsgRepr[] = [];
        let at = 0;
        for (let i = 0; at < stream.length; i++) {
          const n = cuts.length === 0 ? stream.length : cuts[i % cuts.length]!;
          assert.equal(
            framer.push(stream.subarray(at, at + n), (m) => void got.push(m)),
            true,
          );
          at += n;
        }
        assert.deepEqual(
          got,
          msgs.map((m) => ({ ...m })),
        );
        assert.equal(framer.pendingBytes, 0);
      },
    ),
  );
});

test("XsFramer stops the stream at a header declaring more than 4096 bytes", () => {
  const framer = new XsFramer();
  const bad = new Uint8Array(16);
  new DataView(bad.buffer).setUint32(12, 4097, true);
  const good = msg(XS_READ, 1, ["/a"]);
  let n = 0;
  assert.equal(
    framer.push(concat([good, bad, good]), () => void n++),
    false,
  );
  assert.equal(n, 1);
  assert.match(framer.error ?? "", /4097 > XENSTORE_PAYLOAD_MAX/);
  assert.equal(
    framer.push(good, () => void n++),
    false,
  );
  assert.equal(n, 1);
});

test("XsSocketServer reassembles messages split byte by byte and coalesced in one write", async () => {
  const d = new FakeXenstored();
  const srv = await XsSocketServer.listen(d, sockPath(), quiet);
  try {
    const c = await rawClient(srv.path);
    const w = xsMsgBytes({ type: XS_WRITE, reqId: 7, txId: 0, payload: text("/a\0hello") });
    for (const b of w) c.s.write(Uint8Array.of(b));
    await until(() => c.replies.length === 1);
    c.s.write(concat([msg(XS_READ, 8, ["/a"]), msg(XS_READ, 9, ["/nope"]), msg(XS_READ, 10, ["/a"])]));
    await until(() => c.replies.length === 4);
    assert.deepEqual(
      c.replies.map((r) => [r.type, r.reqId, new TextDecoder().decode(r.payload)]),
      [
        [XS_WRITE, 7, "OK\0"],
        [XS_READ, 8, "hello"],
        [XS_ERROR, 9, "ENOENT\0"],
        [XS_READ, 10, "hello"],
      ],
    );
    c.s.destroy();
  } finally {
    await srv.close();
  }
});

test("XsSocketServer closes only the connection that sends an over-long header", async () => {
  const d = new FakeXenstored();
  const lines: string[] = [];
  const srv = await XsSocketServer.listen(d, sockPath(), { log: (l) => lines.push(l) });
  try {
    const good = await rawClient(srv.path);
    const bad = await rawClient(srv.path);
    const hdr = new Uint8Array(16);
    new DataView(hdr.buffer).setUint32(12, 4097, true);
    bad.s.write(hdr);
    await bad.closed;
    good.s.write(msg(XS_READ, 1, ["/"]));
    await until(() => good.replies.length === 1);
    assert.equal(good.replies[0]!.type, XS_READ);
    assert.ok(
      lines.some((l) => /protocol error: .*4097/.test(l)),
      lines.join("\n"),
    );
    await until(() => d.closedConns === 1);
    good.s.destroy();
  } finally {
    await srv.close();
  }
});

test("XsSocketServer serves many clients at once", async () => {
  const d = new FakeXenstored();
  const srv = await XsSocketServer.listen(d, sockPath(), quiet);
  try {
    const clients = await Promise.all(Array.from({ length: 40 }, () => rawClient(srv.path)));
    clients.forEach((c, i) => {
      c.s.write(xsMsgBytes({ type: XS_WRITE, reqId: i, txId: 0, payload: text(`/k${i}\0v${i}`) }));
      c.s.write(msg(XS_READ, 1000 + i, [`/k${i}`]));
    });
    await until(() => clients.every((c) => c.replies.length === 2));
    clients.forEach((c, i) => {
      assert.equal(new TextDecoder().decode(c.replies[1]!.payload), `v${i}`);
      assert.equal(c.replies[1]!.reqId, 1000 + i);
    });
    assert.equal(srv.connections, 40);
    for (const c of clients) c.s.destroy();
    await until(() => d.closedConns === 40 && srv.connections === 0);
  } finally {
    await srv.close();
  }
});

/** A daemon whose every request is answered with a flood, until send() reports the bound. */
class FloodDaemon implements XsConnector {
  sawFull = false;
  closed = 0;
  connect(_o: unknown, sink: XsSink): XsConnection {
    return {
      id: 1,
      domid: 0,
      handle: (type, reqId, txId) => {
        const big = xsMsgBytes({ type, reqId, txId, payload: new Uint8Array(4096) });
        for (let i = 0; i < 10_000; i++) {
          if (!sink.send(big)) {
            this.sawFull = true;
            sink.close("slow reader: outgoing queue over its bound");
            return;
          }
        }
      },
      close: () => void this.closed++,
    };
  }
}

test("XsSocketServer reports a slow reader through send() and drops it on close()", async () => {
  const d = new FloodDaemon();
  const srv = await XsSocketServer.listen(d, sockPath(), { maxWriteQueue: 64 * 1024, log: () => {} });
  try {
    const c = await rawClient(srv.path);
    c.s.pause(); // never reads
    c.s.write(msg(XS_READ, 1, ["/"]));
    // A paused client does not notice the close; the server side does.
    await until(() => d.closed === 1);
    assert.equal(d.sawFull, true);
    assert.equal(srv.connections, 0);
    c.s.destroy();
  } finally {
    await srv.close();
  }
});

test("Xenstored behind XsSocketServer drops a client that sends but never reads", async () => {
  const lines: string[] = [];
  const d = new Xenstored({ log: (l) => lines.push(l) });
  const srv = await XsSocketServer.listen(d, sockPath(), { maxWriteQueue: 64 * 1024, log: () => {} });
  try {
    const w = await rawClient(srv.path);
    w.s.write(
      xsMsgBytes({
        type: XS_WRITE,
        reqId: 1,
        txId: 0,
        payload: concat([text("/big\0"), new Uint8Array(4000)]),
      }),
    );
    await until(() => w.replies.length === 1);
    const slow = await rawClient(srv.path);
    slow.s.pause();
    const reads = Array.from({ length: 400 }, (_, i) => msg(XS_READ, i, ["/big"]));
    slow.s.write(concat(reads));
    await until(() => lines.some((l) => l.includes("slow reader")));
    await until(() => srv.connections === 1);
    w.s.write(msg(XS_READ, 2, ["/big"]));
    await until(() => w.replies.length === 2);
    assert.equal(w.replies[1]!.payload.length, 4000);
    slow.s.destroy();
    w.s.destroy();
  } finally {
    await srv.close();
  }
});

test("XsSocketServer survives a daemon that throws, closing only that connection", async () => {
  let calls = 0;
  const d: XsConnector = {
    connect: () => ({
      id: 9,
      domid: 0,
      handle: () => {
        calls++;
        throw new Error("boom");
      },
      close: () => {},
    }),
  };
  const lines: string[] = [];
  const srv = await XsSocketServer.listen(d, sockPath(), { log: (l) => lines.push(l) });
  try {
    const c = await rawClient(srv.path);
    c.s.write(concat([msg(XS_READ, 1, ["/"]), msg(XS_READ, 2, ["/"])]));
    await c.closed;
    assert.equal(calls, 1, "no message is handled after the failure");
    assert.ok(lines.some((l) => l.includes("daemon error: boom")));
    const c2 = await rawClient(srv.path);
    c2.s.destroy();
  } finally {
    await srv.close();
  }
});

test("XsSocketServer with Xenstored never crashes on random garbage and keeps serving others", async () => {
  const d = new Xenstored();
  const srv = await XsSocketServer.listen(d, sockPath(), quiet);
  try {
    await fc.assert(
      fc.asyncProperty(
        // Raw bytes (mostly over-long headers) and well-framed requests with random fields.
        fc.array(
          fc.oneof(
            fc.uint8Array({ minLength: 1, maxLength: 200 }),
            fc
              .record({
                type: fc.integer({ min: 0, max: 30 }),
                reqId: fc.nat(),
                txId: fc.integer({ min: 0, max: 3 }),
                payload: fc.oneof(
                  fc.uint8Array({ maxLength: 100 }),
                  fc
                    .array(fc.constantFrom("/", "/local", "a", "", "T", "0", "@introduceDomain"))
                    .map(joinXsStrings),
                ),
              })
              .map((m) => xsMsgBytes(m)),
          ),
          { maxLength: 8 },
        ),
        async (chunks) => {
          const c = await rawClient(srv.path);
          for (const ch of chunks) c.s.write(ch);
          await new Promise((r) => setTimeout(r, 2));
          c.s.destroy();
        },
      ),
      { numRuns: 40 },
    );
    const ok = await rawClient(srv.path);
    ok.s.write(msg(XS_READ, 5, ["/local/domain/0/name"]));
    await until(() => ok.replies.length === 1);
    assert.equal(ok.replies[0]!.reqId, 5);
    assert.equal(new TextDecoder().decode(ok.replies[0]!.payload), "Domain-0");
    ok.s.destroy();
  } finally {
    await srv.close();
  }
});

test("XsSocketServer.listen replaces a stale socket and refuses bad paths", async () => {
  const p = sockPath();
  const a = await XsSocketServer.listen(new FakeXenstored(), p, quiet);
  // A live daemon's socket is not taken over.
  await assert.rejects(XsSocketServer.listen(new FakeXenstored(), p, quiet), (e) => {
    assert.ok(e instanceof PvnetError);
    assert.equal(e.code, "EADDRINUSE");
    assert.match(e.message, /already running at /);
    return true;
  });
  // Simulate a crashed daemon: a second name for the socket stays after a's close, and
  // nobody listens on it. A listen there must still work.
  const stale = `${p}.stale`;
  linkSync(p, stale);
  await a.close();
  assert.equal(existsSync(p), false, "close() removes the socket file");
  const b = await XsSocketServer.listen(new FakeXenstored(), stale, quiet);
  await b.close();

  const file = join(dir, "plain-file");
  writeFileSync(file, "x");
  await assert.rejects(XsSocketServer.listen(new FakeXenstored(), file, quiet), (e) => {
    assert.ok(e instanceof PvnetError);
    assert.equal(e.code, "EEXIST");
    return true;
  });
  await assert.rejects(XsSocketServer.listen(new FakeXenstored(), `/tmp/${"x".repeat(120)}`, quiet), (e) => {
    assert.ok(e instanceof PvnetError);
    assert.equal(e.code, "EINVAL");
    assert.match(e.message, /too long: 125 bytes > 107/);
    return true;
  });
});

test("parseXsMsg helper sanity: a raw stream tail is need-more", () => {
  assert.ok(isXsNeedMore(parseXsMsg(msg(XS_READ, 1, ["/a"]).subarray(0, 10))));
});
