import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { callNetmapd } from "../../src/netmapd/client.js";
import { Netmapd } from "../../src/netmapd/daemon.js";
import { checkJobMsg } from "../../src/netmapd/job.js";
import type { NetmapdStatus } from "../../src/netmapd/protocol.js";
import { NetmapdServer } from "../../src/netmapd/server.js";
import { parseValeCtlArgs, type ValeCtlCmd } from "../../src/netmapd/vale-ctl.js";
import type { PktGenResult } from "../../src/pktgen/run.js";

async function withDaemon(fn: (d: Netmapd, path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-netmapd-"));
  const path = join(dir, "netmapd.sock");
  const d = new Netmapd();
  const server = await NetmapdServer.listen(d, path, { log: () => {} });
  try {
    await fn(d, path);
  } finally {
    await server.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Job {
  lines: string[];
  started: Promise<void>;
  stop: () => void;
  done: Promise<NetmapdStatus & { result?: PktGenResult }>;
}

/** Starts a pkt-gen job; `started` resolves at its first line (the port is bound by then). */
async function job(path: string, args: string[], forMs?: number): Promise<Job> {
  const lines: string[] = [];
  let first: () => void = () => {};
  const started = new Promise<void>((r) => {
    first = r;
  });
  const call = await callNetmapd(path, { op: "pkt-gen", args, forMs }, (l) => {
    lines.push(l);
    first();
  });
  const done = call.done as Job["done"];
  void done.then(first, first);
  return { lines, started, stop: call.stop, done };
}

function ctl(d: Netmapd, ...argv: string[]): string[] {
  const c = parseValeCtlArgs(argv);
  if ("error" in c) throw new Error(c.error);
  return d.valeCtl(c as ValeCtlCmd);
}

function counter(d: Netmapd, vif: string, name: string): number {
  const line = ctl(d, "-g", vif)[1] ?? "";
  const m = new RegExp(`${name} (\\d+)`).exec(line);
  assert.ok(m, line);
  return Number(m[1]);
}

test("netmapd: pkt-gens from two connections meet on vale0: in order, every frame received or counted as dropped", async () => {
  await withDaemon(async (d, path) => {
    for (const v of ["a", "b"]) {
      ctl(d, "-n", v);
      ctl(d, "-a", `vale0:${v}`);
    }
    const N = 300_000;
    const rx = await job(path, ["-i", "vale0:b", "-f", "rxseq", "-W", "-T", "300"]);
    await rx.started;
    const tx = await job(path, ["-i", "vale0:a", "-f", "txseq", "-n", String(N), "-R", "2000000"]);
    const t = await tx.done;
    const r = await rx.done;
    assert.equal(t.exit, 0, t.err);
    assert.equal(r.exit, 0, r.err);
    assert.equal(t.result?.packets, N);
    assert.ok(
      tx.lines.some((l) => l.startsWith(`Sent ${N} packets`)),
      tx.lines.join("\n"),
    );
    assert.equal(r.result?.outOfOrder, 0, "nothing out of order");
    const got = r.result?.packets ?? 0;
    assert.ok(got > 0);
    assert.equal(counter(d, "a", "txPackets"), N, "the switch forwarded every frame sent");
    assert.equal(got + counter(d, "b", "rxDrops"), N, "every frame arrived or was counted as a drop");
    assert.equal(counter(d, "b", "rxPackets"), N - counter(d, "b", "rxDrops"));
    assert.ok(
      rx.lines.some((l) => l.startsWith(`Received ${got} packets`)),
      rx.lines.join("\n"),
    );
  });
});

test("netmapd: a pipe between two jobs is lossless and in order; ping/pong across VALE measures round trips", async () => {
  await withDaemon(async (_d, path) => {
    const N = 200_000;
    const rx = await job(path, ["-i", "vale0:p}1", "-f", "rxseq", "-n", String(N)]);
    await rx.started;
    const tx = await job(path, ["-i", "vale0:p{1", "-f", "txseq", "-n", String(N)]);
    const [t, r] = await Promise.all([tx.done, rx.done]);
    assert.equal(t.result?.packets, N);
    assert.equal(r.result?.packets, N, "a pipe never drops: its sender waits for room");
    assert.equal(r.result?.gaps, 0);
    assert.equal(r.result?.outOfOrder, 0);

    const pong = await job(path, ["-i", "vale1:b", "-f", "pong"]);
    await pong.started;
    const ping = await job(path, ["-i", "vale1:a", "-f", "ping", "-n", "200"]);
    const p = await ping.done;
    pong.stop();
    assert.equal((await pong.done).exit, 0);
    assert.equal(p.result?.rtt?.count, 200, "every ping answered");
    assert.ok((p.result?.rtt?.minNs ?? 0) > 0);
    assert.ok(ping.lines.some((l) => /^RTT over 200 packets: min \d+ av \d+ p50 \d+ p99 \d+ ns$/.test(l)));
  });
});

test("netmapd: stopping a job prints its final lines and frees its port; bad requests fail alone", async () => {
  await withDaemon(async (d, path) => {
    const tx = await job(path, ["-i", "vale0:c", "-f", "tx", "-T", "100"]);
    await tx.started;
    assert.deepEqual(ctl(d, "-l"), ["bridge:0 port:0 vale0:c"]);
    const busy = await job(path, ["-i", "vale0:c", "-f", "rx"]);
    const b = await busy.done;
    assert.equal(b.exit, 1);
    assert.equal(b.code, "EBUSY");
    await new Promise((r) => setTimeout(r, 250));
    tx.stop();
    const t = await tx.done;
    assert.equal(t.exit, 0, t.err);
    assert.ok((t.result?.packets ?? 0) > 0);
    assert.ok(tx.lines.some((l) => /^Sent \d+ packets/.test(l)));
    assert.deepEqual(ctl(d, "-l"), [], "the ephemeral port went with its job");

    const bad = await job(path, ["-i", "vale0:x", "-f", "sideways"]);
    const r = await bad.done;
    assert.equal(r.exit, 1);
    assert.match(r.err ?? "", /^-f: expected one of tx, rx/);

    for (const raw of [
      "not json\n",
      '{"op":"reboot"}\n',
      '{"op":"pkt-gen","args":[1]}\n',
      `${"x".repeat(70_000)}\n`,
    ]) {
      const reply = await new Promise<string>((resolve, reject) => {
        const s = connect(path);
        let got = "";
        s.setEncoding("utf8");
        s.on("data", (c: string) => {
          got += c;
        });
        s.on("close", () => resolve(got));
        s.on("error", reject);
        s.write(raw);
      });
      const last = JSON.parse(reply.trim().split("\n").pop() ?? "{}") as { exit?: number; err?: string };
      assert.equal(last.exit, 1, raw.slice(0, 30));
      assert.match(last.err ?? "", /bad request|too long/);
    }
    // The daemon still serves.
    const vc = await callNetmapd(path, { op: "vale-ctl", args: ["-n", "vi0"] }, () => {});
    assert.equal((await vc.done).exit, 0);
    assert.deepEqual(d.interfaces(), ["vi0"]);
  });
});

test("a job worker's messages are checked: anything else is null, never an exception", () => {
  assert.deepEqual(checkJobMsg({ line: "x" }), { line: "x" });
  assert.deepEqual(checkJobMsg({ result: { packets: 1 } }), { result: { packets: 1 } });
  assert.deepEqual(checkJobMsg({ error: { code: "EIO", message: "m" } }), {
    error: { code: "EIO", message: "m" },
  });
  for (const bad of [
    null,
    7,
    "line",
    { line: 3 },
    { result: null },
    { error: "no" },
    { error: { code: 1 } },
    {},
  ])
    assert.equal(checkJobMsg(bad), null, JSON.stringify(bad));
  fc.assert(
    fc.property(fc.anything(), (v) => {
      const m = checkJobMsg(v);
      assert.ok(
        m === null ||
          ("line" in m && typeof m.line === "string") ||
          ("result" in m && typeof m.result === "object" && m.result !== null) ||
          ("error" in m && typeof m.error.code === "string"),
      );
    }),
  );
});
