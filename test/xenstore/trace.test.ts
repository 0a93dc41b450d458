import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { XsClient } from "../../src/xenstore/client.js";
import { Xenstored } from "../../src/xenstore/daemon.js";
import { traceLine, tracePayload, XsTraceFile } from "../../src/xenstore/trace.js";
import { loopbackTransport } from "../../src/xenstore/transport/loopback.js";

const dir = mkdtempSync(join(tmpdir(), "pvnet-xstrace-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const LINE =
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (IN |OUT) conn (\d+) dom(\d+) (XS_[A-Z_]+) tx (\d+) req (\d+) \((.*)\)$/;

test("payloads show NULs as \\0 and every other unprintable byte as \\xNN, on one line", () => {
  const p = new Uint8Array([0x2f, 0x61, 0, 0x76, 0x0a, 0x5c, 0xff, 0]);
  assert.equal(tracePayload(p), "/a\\0v\\x0a\\\\\\xff\\0");
  const line = traceLine(new Date(0), "IN", 3, 1, 11, 7, 2, p);
  assert.equal(
    line,
    "1970-01-01T00:00:00.000Z IN  conn 3 dom1 XS_WRITE tx 2 req 7 (/a\\0v\\x0a\\\\\\xff\\0)\n",
  );
  assert.equal(line.split("\n").length, 2);
});

test("the daemon traces every request and its reply, in a transaction and out, and watch events", async () => {
  const lines: string[] = [];
  const xsd = new Xenstored({ trace: (l) => lines.push(l) });
  const c = new XsClient(loopbackTransport(xsd));
  await c.write("/t/a", "1");
  await c.transaction(async (tx) => {
    await tx.write("/t/b", "2");
  });
  const w = await c.watch("/t/a", "tok");
  await c.read("/t/nope").catch(() => undefined);
  await c.write("/t/a", "3");
  await w.next();
  await w.next();
  c.close();
  const parsed = lines.filter((l) => !/ (NEW|END) conn /.test(l)).map((l) => LINE.exec(l.trimEnd()));
  assert.ok(
    parsed.every((m) => m !== null),
    lines.join(""),
  );
  const rows = parsed.map((m) => ({ dir: m![1]!.trim(), type: m![4]!, tx: Number(m![5]), payload: m![7]! }));
  assert.deepEqual(rows[0], { dir: "IN", type: "XS_WRITE", tx: 0, payload: "/t/a\\01" });
  assert.deepEqual(rows[1], { dir: "OUT", type: "XS_WRITE", tx: 0, payload: "OK\\0" });
  const inTx = rows.find((r) => r.type === "XS_WRITE" && r.payload === "/t/b\\02");
  assert.ok(inTx !== undefined && inTx.tx > 0, "the write inside the transaction carries its tx id");
  assert.ok(rows.some((r) => r.dir === "OUT" && r.type === "XS_ERROR" && r.payload === "ENOENT\\0"));
  assert.ok(
    rows.some((r) => r.dir === "OUT" && r.type === "XS_WATCH_EVENT" && r.payload === "/t/a\\0tok\\0"),
  );
  // Every request has its reply: as many OUTs of non-event types as INs.
  const ins = rows.filter((r) => r.dir === "IN").length;
  const replies = rows.filter((r) => r.dir === "OUT" && r.type !== "XS_WATCH_EVENT").length;
  assert.equal(replies, ins);
  assert.ok(lines[0]!.includes(" NEW conn 1 dom0"), lines[0]);
});

test("XsTraceFile appends whole lines and refuses a file it cannot open, naming it", () => {
  const path = join(dir, "trace");
  const f = new XsTraceFile(path);
  const xsd = new Xenstored({ trace: f.write });
  const c = new XsClient(loopbackTransport(xsd));
  return c.write("/x", "y").then(() => {
    f.close();
    f.write("after close\n");
    const text = readFileSync(path, "utf8");
    assert.match(text, / IN {2}conn 1 dom0 XS_WRITE tx 0 req \d+ \(\/x\\0y\)\n/);
    assert.match(text, / OUT conn 1 dom0 XS_WRITE tx 0 req \d+ \(OK\\0\)\n/);
    assert.doesNotMatch(text, /after close/);
    assert.throws(
      () => new XsTraceFile(join(dir, "no", "such", "dir")),
      /cannot open the trace file .*no\/such\/dir/,
    );
  });
});
