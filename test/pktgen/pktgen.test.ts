import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { PvnetError } from "../../src/base/errors.js";
import { ringHead, ringSlot, slotSetBufIdx, slotSetLen } from "../../src/netmap/layout.js";
import { nmRingAdvance } from "../../src/netmap/ring.js";
import { Netmapd } from "../../src/netmapd/daemon.js";
import { AddrCycler, buildFrame, hexdump } from "../../src/pktgen/frame.js";
import { pktGenHost, splitInstances } from "../../src/pktgen/host.js";
import { type PktGenOptions, parseAddrRange, parsePktGenArgs } from "../../src/pktgen/options.js";
import { runInstance, runPktGen } from "../../src/pktgen/run.js";
import { privateMem } from "../../src/wire/mem.js";
import { ipv4ChecksumValid } from "../../src/wire/net/ipv4.js";
import { udpChecksumValid } from "../../src/wire/net/udp.js";
import { emitPcapHeader, emitPcapRecord } from "../../src/wire/pcap.js";

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
  for (const [argv, where] of [
    [["-i", "a", "++"], "after the last"],
    [["++", "-i", "a"], "before the first"],
    [["-i", "a", "++", "++", "-i", "b"], "between two"],
  ] as const) {
    const r = splitInstances(argv);
    assert.ok("error" in r, argv.join(" "));
    assert.match(r.error, new RegExp(`^\\+\\+: no instance ${where}`));
  }
});

test("-R cuts the burst to a 300th of the rate, as netmap's pkt-gen", () => {
  assert.equal(opts(["-i", "vale0:a", "-f", "tx", "-R", "1000"]).burst, 3);
  assert.equal(opts(["-i", "vale0:a", "-f", "tx", "-R", "10"]).burst, 1);
  assert.equal(opts(["-i", "vale0:a", "-f", "tx", "-R", "1000000", "-b", "64"]).burst, 64);
  assert.equal(opts(["-i", "vale0:a", "-f", "tx", "-R", "30000", "-b", "1024"]).burst, 100);
  assert.equal(opts(["-i", "vale0:a", "-f", "tx"]).burst, 512);
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

test("-s/-d ranges parse as netmap's and cycle source port, source address, destination port, destination address", () => {
  assert.deepEqual(parseAddrRange("10.0.0.1-10.0.0.9:1234-1240"), {
    ip0: 0x0a000001,
    ip1: 0x0a000009,
    port0: 1234,
    port1: 1240,
  });
  assert.deepEqual(parseAddrRange("10.0.0.1"), {
    ip0: 0x0a000001,
    ip1: 0x0a000001,
    port0: 1234,
    port1: 1234,
  });
  for (const [v, re] of [
    ["10.0.0.9-10.0.0.1", /ends before it starts/],
    ["10.0.0.1:9-8", /port range 9-8 ends before/],
    ["10.0.0.1:0", /expected a port 1..65535/],
    ["10.0.0.1-10.0.0.2-10.0.0.3", /expected IP\[-IP\]/],
    ["10.0.0.1:", /expected a port/],
  ] as const) {
    const r = parseAddrRange(v);
    assert.ok("error" in r, v);
    assert.match(r.error, re, v);
  }
  const o = opts(["-i", "vale0:a", "-f", "tx", "-s", "10.0.0.1-10.0.0.2:1-2", "-d", "10.1.0.1-10.1.0.2:7-8"]);
  assert.ok(AddrCycler.needed(o));
  assert.ok(!AddrCycler.needed(opts(["-i", "vale0:a", "-s", "10.0.0.1:5"])));
  const c = new AddrCycler(o);
  const m = privateMem(64);
  const seen: string[] = [];
  const frame = buildFrame(o);
  for (let i = 0; i < 17; i++) {
    m.u8.set(frame, 0);
    c.stamp(m, 0);
    const sip = m.u8[29];
    const dip = m.u8[33];
    seen.push(`${sip}:${m.dv.getUint16(34)}>${dip}:${m.dv.getUint16(36)}`);
    assert.ok(ipv4ChecksumValid(m, 14) && udpChecksumValid(m, 34, 14), `checksums of packet ${i}`);
  }
  assert.deepEqual(seen.slice(0, 9), [
    "1:1>1:7",
    "1:2>1:7",
    "2:1>1:7",
    "2:2>1:7",
    "1:1>1:8",
    "1:2>1:8",
    "2:1>1:8",
    "2:2>1:8",
    "1:1>2:7",
  ]);
  assert.equal(seen[16], seen[0], "16 combinations, then around again");
});

test("-X dumps packets as hex and text", () => {
  const lines: string[] = [];
  const b = Uint8Array.from({ length: 20 }, (_, i) => 0x41 + i);
  hexdump(b, 2, 18, "tx slot 3", (l) => lines.push(l));
  assert.deepEqual(lines, [
    "tx slot 3 len 18",
    "  0000: 43 44 45 46 47 48 49 4a  4b 4c 4d 4e 4f 50 51 52  |CDEFGHIJKLMNOPQR|",
    "  0010: 53 54                                             |ST|",
  ]);
});

test("-P replays a pcap's frames in turn; -X shows them; a bad file is refused before anything starts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-pktgen-"));
  try {
    const frames = [60, 100, 1514].map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff));
    const header = {
      nanos: false,
      bigEndian: false,
      versionMajor: 2,
      versionMinor: 4,
      thiszone: 0,
      sigfigs: 0,
      snaplen: 65535,
      linktype: 1,
    };
    const file = new Uint8Array(24 + frames.reduce((n, f) => n + 16 + f.length, 0));
    emitPcapHeader(header, file, 0);
    let at = 24;
    for (const f of frames) {
      emitPcapRecord({ tsSec: 0, tsFrac: 0, origLen: f.length, data: f }, file, at);
      at += 16 + f.length;
    }
    const path = join(dir, "three.pcap");
    writeFileSync(path, file);
    const lines: string[] = [];
    const [rx, tx] = await runPktGen(
      pktGenHost(),
      [
        opts(["-i", "vale0:b", "-f", "rx", "-n", "6", "-X"]),
        opts(["-i", "vale0:a", "-f", "tx", "-n", "6", "-P", path]),
      ],
      { out: (l) => lines.push(l), stopAfterMs: 5_000 },
    );
    assert.equal(tx.packets, 6);
    assert.equal(rx.packets, 6);
    assert.equal(rx.bytes, 2 * (60 + 100 + 1514));
    assert.ok(lines.includes(`[1] Replaying 3 packets from ${path}`));
    assert.deepEqual(
      lines.filter((l) => /^\[0\] rx vale0:b len/.test(l)),
      [60, 100, 1514, 60, 100, 1514].map((n) => `[0] rx vale0:b len ${n}`),
    );
    writeFileSync(join(dir, "bad.pcap"), "not a pcap");
    for (const bad of [join(dir, "bad.pcap"), join(dir, "absent.pcap")])
      await assert.rejects(
        runPktGen(pktGenHost(), [opts(["-i", "vale0:a", "-f", "tx", "-P", bad])], { out: () => {} }),
        /-P .*: (not a pcap file|cannot read the file \(ENOENT\))/,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("in-process and netmapd refuse a port bound twice (EBUSY) and a missing interface with the same words", async () => {
  const d = new Netmapd();
  const words = async (spec: string, twice: boolean): Promise<string[]> => {
    const got: string[] = [];
    const argv = (f: string) => ["-i", spec, "-f", f, "-n", "1"];
    await runPktGen(pktGenHost(), twice ? [opts(argv("rx")), opts(argv("tx"))] : [opts(argv("rx"))], {
      out: () => {},
      stopAfterMs: 1000, // with both bound, the receiver would wait forever
    }).catch((e: PvnetError) => got.push(`${e.code} ${e.message}`));
    const first = twice ? d.open(spec) : null;
    try {
      d.open(spec);
    } catch (e) {
      got.push(`${(e as PvnetError).code} ${(e as PvnetError).message}`);
    }
    await first?.release();
    return got;
  };
  try {
    for (const spec of ["vale0:a", "vale0:p{3", "vale0:p}3"]) {
      const [local, daemon] = await words(spec, true);
      assert.match(local ?? "", /^EBUSY .*: already in use/, spec);
      assert.equal(local, daemon, spec);
    }
    const [local, daemon] = await words("netmap:vi7", false);
    assert.equal(
      local,
      "ENXIO netmap:vi7: no such interface (make one with pvnet vale-ctl -n vi7, which needs a running pvnet netmapd)",
    );
    assert.equal(local, daemon);
  } finally {
    await d.close();
  }
});

test("a receiver on a switch port ends with the packets dropped on the way to it", async () => {
  const lines: string[] = [];
  const [rx] = await runPktGen(
    pktGenHost(),
    [
      // -b 1 and a slow receiver: a 1024-slot ring cannot take 20000 packets sent at once.
      opts(["-i", "vale0:b", "-f", "rx", "-W", "-T", "200"]),
      opts(["-i", "vale0:a", "-f", "tx", "-n", "20000", "-b", "1024"]),
    ],
    { out: (l) => lines.push(l), stopAfterMs: 5_000 },
  );
  assert.equal(typeof rx.drops, "number");
  assert.equal(rx.packets + (rx.drops ?? 0), 20000, lines.join("\n"));
  assert.ok(lines.includes(`[0] Dropped ${rx.drops} packets on the way to vale0:b (its RX ring was full)`));
});

test("a pipe peer that hands over impossible buffer indices and lengths costs rx only those slots", async () => {
  const ctx = pktGenHost();
  const rxPort = ctx.open("vale0:bad}1");
  const peer = ctx.open("vale0:bad{1");
  const m = peer.mem;
  const k = peer.tx[0];
  // 6 slots: good, index past the pool, index 0 (reserved), length past the buffer, good, good.
  const bad = [null, 0x7fffffff, 0, "len", null, null] as const;
  let h = ringHead(m, k.r);
  for (const b of bad) {
    const s = ringSlot(k.r, h);
    slotSetLen(m, s, b === "len" ? 0xffff : 60);
    if (typeof b === "number") slotSetBufIdx(m, s, b);
    h = h + 1 === k.numSlots ? 0 : h + 1;
  }
  nmRingAdvance(m, k.r, h);
  peer.txsync();
  const res = await runInstance(
    rxPort,
    opts(["-i", "vale0:bad}1", "-f", "rx", "-n", "6"]),
    () => {},
    () => false,
    false,
  );
  assert.equal(res.packets, 6);
  assert.equal(res.badSlots, 3);
  rxPort.close();
  peer.close();
});

/** The rate of each of an instance's interval lines (-N: raw numbers), packets per second. */
function intervalRates(lines: readonly string[], tag: string): number[] {
  const out: number[] = [];
  for (const l of lines) {
    const m = new RegExp(
      `^\\[${tag}\\] [0-9.]+ ?pps \\(([0-9]+) ?pkts [0-9.]+ ?bps in ([0-9]+) usec\\)`,
    ).exec(l);
    if (m !== null) out.push(Math.round((Number(m[1]) / Number(m[2])) * 1e6));
  }
  return out;
}

test("-R 1000 sends evenly: every receiver interval near 1000 pps, no clumps of a full burst", async () => {
  const lines: string[] = [];
  const t0 = performance.now();
  const [rx, tx] = await runPktGen(
    pktGenHost(),
    [
      opts(["-i", "vale0:b", "-f", "rx", "-T", "200", "-N"]),
      opts(["-i", "vale0:a", "-f", "tx", "-R", "1000"]),
    ],
    { out: (l) => lines.push(l), stopAfterMs: 1700 },
  );
  const wall = performance.now() - t0;
  // The first and last intervals are cut by the start and the stop; the others are whole.
  const whole = intervalRates(lines, "0").slice(1, -1);
  assert.ok(whole.length >= 4, lines.join("\n"));
  // Generous for a loaded machine; a 512-packet burst every 512 ms gives intervals of 0
  // and 2500 pps.
  for (const pps of whole)
    assert.ok(pps >= 500 && pps <= 1500, `an interval at ${pps} pps: ${whole.join(", ")}`);
  assert.ok(tx.packets >= 1200 && tx.packets <= 1750, `sent ${tx.packets} in 1.7 s at 1000 pps`);
  assert.equal(rx.packets + (rx.drops ?? 0), tx.packets);
  assert.ok(wall >= 1650 && wall < 1700 + 400, `--for 1.7 ran ${Math.round(wall)} ms`);
  assert.ok(tx.seconds <= 1.7 && rx.seconds <= 1.7, `measured ${tx.seconds} s and ${rx.seconds} s`);
});

test("--for ends receivers and paced senders on time, not a report interval or a burst later", async () => {
  for (const tx of [["-R", "1000"], ["-R", "10", "-b", "512"], []]) {
    const t0 = performance.now();
    await runPktGen(
      pktGenHost(),
      [opts(["-i", "vale0:b", "-f", "rx"]), opts(["-i", "vale0:a", "-f", "tx", ...tx])],
      { out: () => {}, stopAfterMs: 1200 },
    );
    const wall = performance.now() - t0;
    assert.ok(wall >= 1150 && wall < 1200 + 400, `tx ${tx.join(" ")}: --for 1.2 ran ${Math.round(wall)} ms`);
  }
});

test("ping with no responder counts what it sent and prints no RTT", async () => {
  const lines: string[] = [];
  const [rx, ping] = await runPktGen(
    pktGenHost(),
    [opts(["-i", "vale0:b", "-f", "rx"]), opts(["-i", "vale0:a", "-f", "ping", "-n", "2", "-T", "300"])],
    { out: (l) => lines.push(l), stopAfterMs: 6000 },
  );
  assert.equal(ping.packets, 2, lines.join("\n"));
  assert.equal(ping.bytes, 120);
  assert.equal(ping.rtt, null);
  assert.equal(rx.packets, 2, "the peer received both");
  assert.ok(
    lines.some((l) => /^\[1\] Sent 2 packets 120 bytes 2 events/.test(l)),
    lines.join("\n"),
  );
  assert.deepEqual(
    lines.filter((l) => /RTT|9007199254740991/.test(l)),
    [],
    "no RTT line without replies",
  );
});

test("-n on one instance ends the run: a pong stops with its ping, a receiver with its sender", async () => {
  const t0 = performance.now();
  const [pong, ping] = await runPktGen(
    pktGenHost(),
    [opts(["-i", "vale0:srv", "-f", "pong"]), opts(["-i", "vale0:cli", "-f", "ping", "-n", "30"])],
    { out: () => {}, stopAfterMs: 20_000 },
  );
  assert.ok(performance.now() - t0 < 5000, "the pong ran on after its ping was done");
  assert.equal(ping.packets, 30);
  assert.equal(ping.rtt?.count, 30);
  assert.equal(pong.packets, 30);
  const t1 = performance.now();
  const [rx, tx] = await runPktGen(
    pktGenHost(),
    [opts(["-i", "vale0:b", "-f", "rx"]), opts(["-i", "vale0:a", "-f", "tx", "-n", "50000"])],
    { out: () => {}, stopAfterMs: 20_000 },
  );
  assert.ok(performance.now() - t1 < 5000, "the receiver ran on after its sender was done");
  assert.equal(tx.packets, 50000);
  assert.equal(rx.packets + (rx.drops ?? 0), 50000, "everything in flight was counted");
  // And the other way: a receiver's count stops an unbounded sender.
  const [rx2, tx2] = await runPktGen(
    pktGenHost(),
    [opts(["-i", "vale0:b", "-f", "rx", "-n", "1000"]), opts(["-i", "vale0:a", "-f", "tx", "-R", "20000"])],
    { out: () => {}, stopAfterMs: 20_000 },
  );
  assert.ok(rx2.packets >= 1000 && tx2.packets >= 1000 && tx2.packets < 20_000, `${tx2.packets} sent`);
});

test("pkt-gen on a monitor: counts its copies and drops with netmap's words, before or after its port", async () => {
  for (const monitorFirst of [false, true]) {
    const lines: string[] = [];
    const mon = opts(["-i", "vale0:b/r", "-f", "rx"]);
    const port = opts(["-i", "vale0:b", "-f", "rx"]);
    const tx = opts(["-i", "vale0:a", "-f", "tx", "-n", "100000"]);
    const res = await runPktGen(pktGenHost(), monitorFirst ? [mon, port, tx] : [port, mon, tx], {
      out: (l) => lines.push(l),
      stopAfterMs: 20_000,
    });
    const [m, p] = monitorFirst ? [res[0], res[1]] : [res[1], res[0]];
    const mi = monitorFirst ? 0 : 1;
    assert.equal(typeof m.drops, "number", lines.join("\n"));
    assert.equal(p.packets + (p.drops ?? 0), 100000);
    // The monitor copies what the port receives: each copy arrived or was dropped.
    assert.equal(m.packets + (m.drops ?? 0), p.packets, lines.join("\n"));
    assert.ok(
      lines.includes(
        `[${mi}] Dropped ${m.drops} packets on vale0:b/r (excess traffic: the monitor's ring was full)`,
      ),
      lines.join("\n"),
    );
  }
  await assert.rejects(
    runPktGen(pktGenHost(), [opts(["-i", "vale0:nobody/r", "-f", "rx"])], { out: () => {} }),
    /nothing to monitor/,
  );
});

test("an instance that fails stops the others", async () => {
  const lines: string[] = [];
  const out = (l: string): void => {
    if (l.startsWith("[1] Sending")) throw new Error("the sender's output failed");
    lines.push(l);
  };
  const run = runPktGen(
    pktGenHost(),
    [opts(["-i", "vale0:b", "-f", "rx", "-T", "50"]), opts(["-i", "vale0:a", "-f", "tx"])],
    { out },
  );
  await assert.rejects(run, /the sender's output failed/);
  const until = performance.now() + 2000;
  while (!lines.some((l) => l.startsWith("[0] Received")) && performance.now() < until)
    await new Promise((r) => setTimeout(r, 20));
  assert.ok(
    lines.some((l) => l.startsWith("[0] Received")),
    "the receiver ran on",
  );
});
