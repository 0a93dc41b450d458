import assert from "node:assert/strict";
import { test } from "node:test";
import { pktGenHost, splitInstances } from "../../src/pktgen/host.js";
import { type PktGenOptions, parsePktGenArgs } from "../../src/pktgen/options.js";
import { runPktGen } from "../../src/pktgen/run.js";

function opts(argv: string[]): PktGenOptions {
  const o = parsePktGenArgs(argv);
  if ("error" in o) assert.fail(o.error);
  return o;
}

test("pkt-gen options parse as netmap's, and bad ones say what was expected", () => {
  const o = opts([
    "-i",
    "vale0:a",
    "-f",
    "tx",
    "-l",
    "1500",
    "-b",
    "64",
    "-n",
    "10",
    "-S",
    "02:00:00:00:00:0a",
    "-d",
    "10.9.0.1:99",
  ]);
  assert.deepEqual(
    [o.port, o.fn, o.len, o.burst, o.count, o.srcMac, o.dstIp, o.dstPort],
    ["vale0:a", "tx", 1500, 64, 10, 0x02000000000a, 0x0a090001, 99],
  );
  assert.equal(opts(["-i", "eth0"]).port, "netmap:eth0");
  assert.equal(opts(["-i", "vale0:a", "-f", "ping"]).burst, 1);
  const bad: [string[], RegExp][] = [
    [["-f", "tx"], /-i: a port is required/],
    [["-i", "vale0:a", "-f", "blast"], /-f: expected one of tx, rx/],
    [["-i", "vale0:a", "-l", "10"], /-l: expected an integer from 60 to 2048/],
    [["-i", "vale0:a", "-D", "zz"], /-D: mac: expected six hex octets/],
    [["-i", "vale0:a", "-q"], /unknown option/],
    [["-i"], /-i: expected a value/],
    [["-i", "vale0:a", "-p", "2"], /-p 2: one thread per ring pair/],
    [["-i", "vale0:a", "-p", "0"], /-p: expected an integer from 1 to 64/],
  ];
  assert.equal(opts(["-i", "vale0:a", "-p", "1"]).port, "vale0:a");
  for (const [argv, re] of bad) {
    const r = parsePktGenArgs(argv);
    assert.ok("error" in r, argv.join(" "));
    assert.match((r as { error: string }).error, re);
  }
  assert.deepEqual(splitInstances(["-i", "a", "++", "-i", "b"]), [
    ["-i", "a"],
    ["-i", "b"],
  ]);
});

test("tx to rx through VALE in one host: every packet arrives", async () => {
  const lines: string[] = [];
  const [rx, tx] = await runPktGen(
    pktGenHost(),
    [
      opts(["-i", "vale0:b", "-f", "rx", "-n", "200000"]),
      opts(["-i", "vale0:a", "-f", "tx", "-n", "200000", "-b", "256"]),
    ],
    { out: (l) => lines.push(l), stopAfterMs: 10_000 },
  );
  assert.equal(tx.packets, 200000);
  assert.equal(rx.packets, 200000);
  assert.equal(rx.bytes, 200000 * 60);
  assert.ok(lines.some((l) => /^\[1\] Sent 200000 packets 12000000 bytes/.test(l)));
  assert.ok(lines.some((l) => /^\[0\] Speed: [0-9.]+ [KMG]?pps Bandwidth/.test(l)));
});

test("txseq to rxseq through a pipe: no gaps, nothing out of order", async () => {
  const [rx, tx] = await runPktGen(
    pktGenHost(),
    [
      opts(["-i", "vale0:x}1", "-f", "rxseq", "-n", "100000"]),
      opts(["-i", "vale0:x{1", "-f", "txseq", "-n", "100000"]),
    ],
    { out: () => {}, stopAfterMs: 10_000 },
  );
  assert.equal(tx.packets, 100000);
  assert.equal(rx.packets, 100000);
  assert.equal(rx.gaps + rx.outOfOrder, 0);
});

test("ping and pong through VALE measure round trips", async () => {
  const [, ping] = await runPktGen(
    pktGenHost(),
    [
      opts(["-i", "vale0:srv", "-f", "pong", "-n", "200"]),
      opts(["-i", "vale0:cli", "-f", "ping", "-n", "200"]),
    ],
    { out: () => {}, stopAfterMs: 5_000 },
  );
  assert.ok(ping.rtt !== null);
  assert.equal(ping.rtt.count, 200);
  assert.ok(ping.rtt.minNs > 0 && ping.rtt.p99Ns >= ping.rtt.p50Ns);
});
