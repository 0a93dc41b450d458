/**
 * `pvnet capture` against a running `pvnet up` (the default host: guest1 and guest2 ping
 * each other), each capture its own process, the files judged by tshark (Wireshark's
 * dissectors, an implementation independent of ours). Without tshark these tests skip with
 * the reason, never pass.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MAIN, pvnetRun, UpProcess, until } from "./running-host.js";

const HAVE_TSHARK = spawnSync("tshark", ["-v"], { stdio: "ignore" }).status === 0;
const NO_TSHARK = "tshark is not installed (apt-get install tshark; .ci/run installs it)";
const host = new UpProcess("pvnet-capcli-");
const { env, dir } = host;

before(() => host.start());
after(async () => {
  await host.stop();
  host.remove();
});

/** tshark's field lines for a capture file. */
function fields(file: string, names: string[]): string[][] {
  const args = ["-r", file, "-T", "fields"];
  for (const n of names) args.push("-e", n);
  const out = execFileSync("tshark", args, {
    encoding: "utf8",
    timeout: 60_000,
    stdio: ["ignore", "pipe", "ignore"],
  });
  return out
    .trimEnd()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\t"));
}

/** guest1 pings guest2 quickly, so captures need not wait for the once-a-second probes. */
function traffic(): Promise<unknown> {
  return pvnetRun(["ping", "guest1", "10.0.0.2", "-c", "6", "-i", "0.1"], env);
}

test("pcapng from vif1.0: -c 4, the interface named, ICMP both ways with its direction", async (t) => {
  if (!HAVE_TSHARK) return t.skip(NO_TSHARK);
  const file = join(dir, "vif.pcapng");
  const cap = pvnetRun(["capture", "vif1.0", "-w", file, "-c", "4", "--format", "pcapng", "icmp"], env);
  const [r] = await Promise.all([cap, traffic()]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "4 packets captured\n0 packets dropped\n");
  const rows = fields(file, [
    "frame.interface_name",
    "frame.packet_flags_direction",
    "ip.src",
    "ip.dst",
    "icmp.type",
  ]);
  assert.equal(rows.length, 4);
  for (const [ifname, dirn, src, dst, type] of rows) {
    assert.equal(ifname, "vif1.0");
    // Into the switch from guest1 is inbound on vif1.0; to guest1 is outbound.
    // epb_flags' direction bits: 1 inbound, 2 outbound (tshark prints the whole word).
    if (src === "10.0.0.1") assert.deepEqual([Number(dirn) & 3, dst], [1, "10.0.0.2"], String(rows));
    else assert.deepEqual([src, dst, Number(dirn) & 3], ["10.0.0.2", "10.0.0.1", 2], String(rows));
    assert.ok(type === "8" || type === "0", type);
  }
  assert.ok(new Set(rows.map((x) => x[1])).size === 2, `both directions: ${String(rows)}`);
});

test("-w - | tshark -r -: a pcap stream, filtered to UDP port 7, decoded", async (t) => {
  if (!HAVE_TSHARK) return t.skip(NO_TSHARK);
  // A shell pipe, as a user types it (tshark reads a pipe on stdin, not a socket). The
  // guests' UDP echo probes run once a second each way.
  const errFile = join(dir, "udp.err");
  const cmd = `"${process.execPath}" "${MAIN}" capture vif2.0 -w - -c 2 udp port 7 2>"${errFile}" | tshark -r - -T fields -e udp.srcport -e udp.dstport -e ip.proto -e eth.type`;
  const out = await new Promise<string>((resolve, reject) =>
    execFile("sh", ["-c", cmd], { env, timeout: 60_000 }, (e, o) => (e === null ? resolve(o) : reject(e))),
  );
  assert.equal(readFileSync(errFile, "utf8"), "2 packets captured\n0 packets dropped\n");
  const rows = out
    .trimEnd()
    .split("\n")
    .map((l) => l.split("\t"));
  assert.equal(rows.length, 2, out);
  for (const [sp, dp, proto, et] of rows) {
    assert.ok(sp === "7" || dp === "7", `${sp} ${dp}`);
    assert.deepEqual([proto, et], ["17", "0x0800"]);
  }
});

test("through a shell pipe to tshark, and ip host / ether host filters", async (t) => {
  if (!HAVE_TSHARK) return t.skip(NO_TSHARK);
  const mac1 = "00:16:3e:00:01:00";
  const cmd = `"${process.execPath}" "${MAIN}" capture vale0 -w - -c 3 ether host ${mac1} and ip host 10.0.0.2 | tshark -r - -T fields -e eth.src -e eth.dst -e ip.src -e ip.dst`;
  const [out] = await Promise.all([
    new Promise<string>((resolve, reject) =>
      execFile("sh", ["-c", cmd], { env, timeout: 60_000 }, (e, o) => (e === null ? resolve(o) : reject(e))),
    ),
    traffic(),
  ]);
  const rows = out
    .trimEnd()
    .split("\n")
    .map((l) => l.split("\t"));
  assert.equal(rows.length, 3, out);
  for (const [es, ed, is, id] of rows) {
    assert.ok(es === mac1 || ed === mac1, `${es} ${ed}`);
    assert.ok(is === "10.0.0.2" || id === "10.0.0.2", `${is} ${id}`);
  }
});

test("Ctrl-C ends it: the file is whole, the counts on stderr, exit 0", async (t) => {
  if (!HAVE_TSHARK) return t.skip(NO_TSHARK);
  const file = join(dir, "int.pcap");
  const p = spawn(process.execPath, [MAIN, "capture", "vif1.0", "-w", file], { env });
  let err = "";
  p.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<number | null>((r) => p.on("close", (c) => r(c)));
  try {
    await traffic();
    await until(
      "some frames in the file",
      async () => existsSync(file) && readFileSync(file).length > 24 + 98,
    );
    p.kill("SIGINT");
    assert.equal(await exited, 0, err);
  } finally {
    p.kill("SIGKILL");
  }
  const m = /^(\d+) packets captured\n(\d+) packets dropped\n$/.exec(err);
  assert.ok(m !== null, err);
  const rows = fields(file, ["frame.len"]);
  assert.equal(rows.length, Number(m[1]));
  assert.ok(rows.length >= 1);
});

test("a client that dies mid-capture frees its tap; the host serves the next one", async (t) => {
  if (!HAVE_TSHARK) return t.skip(NO_TSHARK);
  for (let i = 0; i < 3; i++) {
    const p = spawn(process.execPath, [MAIN, "capture", "vale0", "-w", join(dir, `dead${i}.pcap`)], { env });
    await until("the capture running", async () => existsSync(join(dir, `dead${i}.pcap`)));
    await new Promise((r) => setTimeout(r, 300));
    p.kill("SIGKILL");
    await new Promise((r) => p.on("close", r));
  }
  const file = join(dir, "after.pcap");
  const [r] = await Promise.all([pvnetRun(["capture", "vif1.0", "-w", file, "-c", "2"], env), traffic()]);
  assert.equal(r.code, 0, r.err);
  assert.equal(fields(file, ["frame.len"]).length, 2);
});

test("errors: one line each, exit 1", async () => {
  const cases: [string[], RegExp][] = [
    [["capture", "vif9.9", "-w", join(dir, "x.pcap")], /^pvnet capture: no port named vif9\.9 \(ports: /],
    [
      ["capture", "vif1.0", "-w", "-", "udp", "port", "70000"],
      /^pvnet capture: filter: port 70000 is not 0-65535/,
    ],
    [
      ["capture", "vif1.0", "-w", "-", "ether", "host", "nope"],
      /^pvnet capture: filter: nope is not a MAC address/,
    ],
    [["capture", "vif1.0"], /^pvnet capture: -w FILE is required/],
    [["capture", "vif1.0", "-w", "-", "--format", "erf"], /^pvnet capture: bad format "erf"/],
    [["capture", "nobr:x", "-w", "-"], /^pvnet capture: no bridge named nobr/],
  ];
  for (const [args, re] of cases) {
    const r = await pvnetRun(args, env);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, re);
    assert.equal(r.err.trimEnd().split("\n").length, 1, r.err);
  }
  // A refused capture leaves no file behind; a file that cannot be written is one line.
  assert.equal(existsSync(join(dir, "x.pcap")), false);
  const nodir = await pvnetRun(["capture", "vif1.0", "-w", join(dir, "no", "such.pcap")], env);
  assert.equal(nodir.code, 1);
  assert.match(nodir.err, /^pvnet capture: writing the capture: ENOENT/);
  assert.equal(nodir.err.trimEnd().split("\n").length, 1, nodir.err);
  const none = await pvnetRun(["capture", "vif1.0", "-w", "-"], { ...env, PVNET_RUNDIR: join(dir, "none") });
  assert.equal(none.code, 1);
  assert.match(none.err, /^pvnet capture: no pvnet host is running/);
});

test("a port that goes (its guest destroyed) ends the capture: counts, then one line, exit 1", async () => {
  const made = await pvnetRun(["create", "--name", "guest3", "--ip", "10.0.0.3/24"], env);
  assert.equal(made.code, 0, made.err);
  const file = join(dir, "gone.pcap");
  const p = spawn(process.execPath, [MAIN, "capture", "vif3.0", "-w", file], { env });
  let err = "";
  p.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
  const exited = new Promise<number | null>((r) => p.on("close", (c) => r(c)));
  try {
    await until("the capture running", async () => existsSync(file));
    const gone = await pvnetRun(["destroy", "guest3"], env);
    assert.equal(gone.code, 0, gone.err);
    assert.equal(await exited, 1, err);
  } finally {
    p.kill("SIGKILL");
  }
  assert.match(err, /^\d+ packets captured\n0 packets dropped\npvnet capture: vif3\.0 left vale0\n$/);
});
