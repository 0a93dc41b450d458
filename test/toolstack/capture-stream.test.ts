/**
 * The host's half of `pvnet capture` against a scripted Domain-0: the reply line, the
 * records, acks only for chunks the socket took, and a stop however the client asks for it
 * (a line before or after the start, or going away).
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MSG_CAPTURE_ACK, MSG_CAPTURE_START, MSG_CAPTURE_STOP } from "../../src/toolstack/capture-proto.js";
import {
  CAPTURE_REC_DATA,
  CAPTURE_REC_END,
  type CaptureRequest,
  parseCaptureRequest,
  serveCapture,
} from "../../src/toolstack/capture-stream.js";
import type { Host } from "../../src/toolstack/host.js";

const dir = mkdtempSync(join(tmpdir(), "pvnet-capstream-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A host whose Domain-0 is `dom0`: it sees every message posted and reports through `say`. */
function fakeHost(dom0: (m: Record<string, unknown>, say: (r: unknown) => void) => void): {
  host: Host;
  posted: Record<string, unknown>[];
} {
  const machine = new EventEmitter() as EventEmitter & { post(to: number, m: unknown): void };
  const posted: Record<string, unknown>[] = [];
  machine.post = (to, m) => {
    assert.equal(to, 0);
    posted.push(m as Record<string, unknown>);
    setImmediate(() => dom0(m as Record<string, unknown>, (r) => machine.emit("report", 0, r)));
  };
  return { host: { machine } as unknown as Host, posted };
}

/** A connected pair of unix sockets: [the host's end, the client's end]. */
async function pair(name: string): Promise<[Socket, Socket]> {
  const path = join(dir, name);
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<Socket>((r) => server.once("connection", r));
  const client = connect(path);
  const s = await accepted;
  server.close();
  s.setEncoding("utf8");
  return [s, client];
}

/** Everything the client end receives until the host closes it. */
function received(c: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  c.on("data", (b: Buffer) => parts.push(b));
  return new Promise((r) => c.on("close", () => r(Buffer.concat(parts))));
}

/** The reply line and the records after it. */
function decode(b: Buffer): { reply: unknown; records: [string, Buffer][] } {
  const nl = b.indexOf(0x0a);
  const reply = JSON.parse(b.subarray(0, nl).toString()) as unknown;
  const records: [string, Buffer][] = [];
  for (let at = nl + 1; at < b.length; ) {
    const len = b.readUInt32LE(at + 1);
    records.push([String.fromCharCode(b[at]!), b.subarray(at + 5, at + 5 + len)]);
    at += 5 + len;
  }
  return { reply, records };
}

const REQ = parseCaptureRequest(
  '{"op":"capture","port":"vif1.0","format":"pcapng","count":null,"filter":"udp"}',
);

test("parseCaptureRequest: other ops are not its business; bad fields name themselves", () => {
  assert.equal(parseCaptureRequest('{"op":"list"}'), null);
  assert.equal(parseCaptureRequest("not json"), null);
  assert.deepEqual(REQ, {
    op: "capture",
    port: "vif1.0",
    format: "pcapng",
    count: null,
    filter: [{ k: "proto", proto: "udp" }],
  });
  assert.match(String(parseCaptureRequest('{"op":"capture","port":""}')), /"port" must be/);
  assert.match(String(parseCaptureRequest('{"op":"capture","port":"a","count":0}')), /"count" must be/);
  assert.match(String(parseCaptureRequest('{"op":"capture","port":"a","format":"erf"}')), /"format" must be/);
  assert.match(String(parseCaptureRequest('{"op":"capture","port":"a","x":1}')), /unknown field "x"/);
  assert.match(String(parseCaptureRequest('{"op":"capture","port":"a","filter":"udp port x"}')), /^filter:/);
});

/** A Domain-0 that starts, sends `chunks`, and ends with their count when stopped. */
function streamingDom0(chunks: number): (m: Record<string, unknown>, say: (r: unknown) => void) => void {
  return (m, say) => {
    const id = m.id;
    if (m.t === MSG_CAPTURE_START) {
      say({ t: "capture-started", id, bridge: "vale0", port: "vif1.0" });
      for (let i = 0; i < chunks; i++)
        say({ t: "capture-data", id, bytes: Uint8Array.of(i, i, i), frames: 1 });
    } else if (m.t === MSG_CAPTURE_STOP)
      say({ t: "capture-end", id, captured: chunks, dropped: 1, reason: "stopped" });
  };
}

test("reply, data records in order, one ack per chunk, the end record after a stop line", async () => {
  assert.ok(REQ !== null && typeof REQ !== "string");
  const [s, c] = await pair("a.sock");
  const { host, posted } = fakeHost(streamingDom0(3));
  const got = received(c);
  const served = serveCapture(host, s, REQ as CaptureRequest, "");
  c.once("data", () => setTimeout(() => c.write("stop\n"), 50));
  assert.equal(await served, true);
  const { reply, records } = decode(await got);
  assert.deepEqual(reply, { ok: true, port: "vif1.0", bridge: "vale0", format: "pcapng" });
  assert.deepEqual(
    records.map(([t, b]) => [t, t === "E" ? JSON.parse(b.toString()) : [...b]]),
    [
      ["D", [0, 0, 0]],
      ["D", [1, 1, 1]],
      ["D", [2, 2, 2]],
      ["E", { captured: 3, dropped: 1, reason: "stopped" }],
    ],
  );
  assert.equal(String.fromCharCode(CAPTURE_REC_DATA, CAPTURE_REC_END), "DE");
  assert.deepEqual(
    posted.map((m) => m.t),
    [MSG_CAPTURE_START, MSG_CAPTURE_ACK, MSG_CAPTURE_ACK, MSG_CAPTURE_ACK, MSG_CAPTURE_STOP],
  );
});

test("a stop sent before Domain-0 started is honoured once it has", { timeout: 20_000 }, async () => {
  for (const [name, early] of [
    ["b.sock", "stop\n"], // with the request line
    ["b2.sock", ""], // on its own while Domain-0 takes its time
  ]) {
    const [s, c] = await pair(name!);
    const dom0 = streamingDom0(0);
    const { host, posted } = fakeHost((m, say) => setTimeout(() => dom0(m, say), 200));
    const got = received(c);
    const served = serveCapture(host, s, REQ as CaptureRequest, early!);
    if (early === "") c.write("stop\n");
    assert.equal(await served, true);
    const { records } = decode(await got);
    assert.deepEqual(
      records.map(([t]) => t),
      ["E"],
    );
    assert.deepEqual(
      posted.map((m) => m.t),
      [MSG_CAPTURE_START, MSG_CAPTURE_STOP],
    );
  }
});

test("a client that goes away stops the capture; a refusal is one error line", async () => {
  const [s, c] = await pair("c.sock");
  const { host, posted } = fakeHost(streamingDom0(1));
  const served = serveCapture(host, s, REQ as CaptureRequest, "");
  c.once("data", () => c.destroy());
  assert.equal(await served, true);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(posted.at(-1)?.t, MSG_CAPTURE_STOP);

  const [s2, c2] = await pair("d.sock");
  const refusing = fakeHost((m, say) =>
    say({ t: "capture-refused", id: m.id, error: "no port named vif9.9" }),
  );
  const line = new Promise<string>((r) => c2.once("data", (b: Buffer) => r(b.toString())));
  assert.equal(await serveCapture(refusing.host, s2, REQ as CaptureRequest, ""), false);
  assert.equal(await line, '{"ok":false,"error":"no port named vif9.9"}\n');
  c2.destroy();
  s2.destroy();
});
