/**
 * The second slice of the control socket's commands, as a user runs them: `pvnet up` in one
 * process, `pvnet ping`, `pvnet top -b` and `pvnet create` each in its own.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { MAIN, pvnetRun, type Run, UpProcess } from "./running-host.js";

const host = new UpProcess("pvnet-ctl2-");
const { env, dir } = host;

function pvnet(args: readonly string[], e: NodeJS.ProcessEnv = env): Promise<Run> {
  return pvnetRun(args, e);
}

before(() => host.start());

after(async () => {
  await host.stop();
  host.remove();
});

test("ping: iputils' lines from inside guest1's stack, the statistics, exit 0", async () => {
  const r = await pvnet(["ping", "guest1", "10.0.0.2", "-c", "3", "-i", "0.1"]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines[0], "PING 10.0.0.2 (10.0.0.2) from 10.0.0.1 guest1: 56(84) bytes of data.");
  for (let i = 1; i <= 3; i++)
    assert.match(
      lines[i]!,
      new RegExp(`^64 bytes from 10\\.0\\.0\\.2: icmp_seq=${i} ttl=64 time=\\d+(\\.\\d+)? ms$`),
    );
  assert.equal(lines[4], "");
  assert.equal(lines[5], "--- 10.0.0.2 ping statistics ---");
  assert.match(lines[6]!, /^3 packets transmitted, 3 received, 0% packet loss, time \d+ms$/);
  assert.match(lines[7]!, /^rtt min\/avg\/max\/mdev = \d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3}\/\d+\.\d{3} ms$/);
});

test("ping --json: the replies and the statistics", async () => {
  const r = await pvnet(["ping", "2", "10.0.0.1", "-c", "2", "-i", "0.1", "--json"]);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out) as {
    from: string;
    transmitted: number;
    received: number;
    replies: { ttl: number }[];
  };
  assert.equal(j.from, "10.0.0.2");
  assert.equal(j.transmitted, 2);
  assert.equal(j.received, 2);
  assert.deepEqual(
    j.replies.map((e) => e.ttl),
    [64, 64],
  );
});

test("ping: nobody answers: 100% loss, exit 1; bad names and addresses: one line, exit 1", async () => {
  const r = await pvnet(["ping", "guest1", "10.0.0.99", "-c", "2", "-i", "0.1", "-W", "0.2"]);
  assert.equal(r.code, 1, r.err);
  assert.match(r.out, /2 packets transmitted, 0 received, 100% packet loss/);
  for (const [args, re] of [
    [["ping", "nobody", "10.0.0.2"], /^pvnet ping: no domain named nobody\n$/],
    [["ping", "Domain-0", "10.0.0.2"], /^pvnet ping: Domain-0 has no IP stack/],
    [["ping", "guest1", "10.0.0"], /^pvnet ping: bad address "10\.0\.0"/],
    [["ping", "guest1", "10.0.0.2", "-c", "0"], /^pvnet ping: .*count/],
    [
      ["ping", "guest1", "10.0.0.2", "--control", join(dir, "none.sock")],
      /^pvnet ping: no pvnet host is running/,
    ],
  ] as const) {
    const e = await pvnet(args);
    assert.equal(e.code, 1, `${args.join(" ")}: ${e.out}`);
    assert.match(e.err, re);
    assert.doesNotMatch(e.err, /\n\s+at /);
  }
});

test("top -b: per iteration a row per domain and per vif; rates move under the guests' pings", async () => {
  const r = await pvnet(["top", "-b", "-i", "1", "-n", "2"]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines.length, 14, r.out);
  for (const it of [0, 7]) {
    assert.match(
      lines[it]!,
      /^ +NAME +STATE +CPU\(sec\) CPU\(%\) +MEM\(k\) VCPUS NETS NETTX\(k\) NETRX\(k\)$/,
    );
    assert.match(lines[it + 1]!, /^ +Domain-0 r----- /);
    assert.match(lines[it + 2]!, /^ +guest1 -b---- +\d+\.\d +\d+\.\d +\d+ +1 +1 /);
    assert.match(
      lines[it + 4]!,
      /^ +VIF +DOMAIN FE\/BE +tx_pps +tx_bps +rx_pps +rx_bps tx_dropped rx_dropped errors$/,
    );
    assert.match(lines[it + 5]!, /^ +vif1\.0 +guest1 Connected\/Connected +\d+ +\d+ +\d+ +\d+ +0 +0 +0$/);
    assert.match(lines[it + 6]!, /^ +vif2\.0 +guest2 Connected\/Connected /);
  }
  // Both guests ping and UDP-echo each other every second: over a whole second, frames moved.
  const moved = lines.filter((l) => /^ +vif/.test(l)).some((l) => Number(l.trim().split(/ +/)[3]) > 0);
  assert.ok(moved, r.out);
});

test("top --json: one object per update; full screen without a terminal: one line, exit 1", async () => {
  const r = await pvnet(["top", "--json", "-i", "0.3", "-n", "2"]);
  assert.equal(r.code, 0, r.err);
  const objs = r.out
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as { iteration: number; vifs: { name: string }[] });
  assert.deepEqual(
    objs.map((o) => [o.iteration, o.vifs.map((v) => v.name)]),
    [
      [1, ["vif1.0", "vif2.0"]],
      [2, ["vif1.0", "vif2.0"]],
    ],
  );
  const e = await pvnet(["top"]);
  assert.equal(e.code, 1);
  assert.match(
    e.err,
    /^pvnet top: the full-screen mode needs a terminal \(use -b for plain lines, or --json\)\n$/,
  );
  const n = await pvnet(["top", "-b", "-n", "1", "--control", join(dir, "none.sock")]);
  assert.equal(n.code, 1);
  assert.match(n.err, /^pvnet top: no pvnet host is running/);
});

test("create under guest1's pings to guest2: the new guest is Connected and listed, the pings lose nothing", async () => {
  const pinging = pvnet(["ping", "guest1", "10.0.0.2", "-c", "40", "-i", "0.05"]);
  const r = await pvnet(["create", "--name", "guest3", "--ip", "10.0.0.3/24"]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /^created guest3 \(domain 3\): vif3\.0 00:16:3e:00:03:00 10\.0\.0\.3\/24 on vale0, Connected\n$/,
  );
  const p = await pinging;
  assert.equal(p.code, 0, p.err);
  assert.match(p.out, /40 packets transmitted, 40 received, 0% packet loss/);
  const l = await pvnet(["list"]);
  assert.match(l.out, /\nguest3 +3 +32 +1 +-b---- +\d+\.\d\n$/);
  const n = await pvnet(["network-list", "guest3"]);
  assert.match(n.out, /\n0 +0 +00:16:3e:00:03:00 +0 +4 /);
  // The new guest's stack answers from the others' side and pings them from its own.
  assert.equal((await pvnet(["ping", "guest2", "10.0.0.3", "-c", "2", "-i", "0.1"])).code, 0);
  assert.equal((await pvnet(["ping", "guest3", "10.0.0.1", "-c", "2", "-i", "0.1"])).code, 0);
  const j = await pvnet(["create", "--name", "guest4", "--json"]);
  assert.equal(j.code, 0, j.err);
  assert.deepEqual(JSON.parse(j.out), {
    domain: "guest4",
    id: 4,
    vif: "vif4.0",
    mac: "00:16:3e:00:04:00",
    ip: null,
    bridge: "vale0",
  });
  for (const g of ["guest3", "guest4"]) assert.equal((await pvnet(["destroy", g])).code, 0);
});

test("create: a taken name, a taken address, another subnet, an unknown bridge: one line, exit 1", async () => {
  for (const [args, re] of [
    [["--name", "guest1"], /^pvnet create: a domain named guest1 exists\n$/],
    [["--name", "g", "--ip", "10.0.0.2/24"], /^pvnet create: 10\.0\.0\.2 is vif2\.0's \(guest2\)\n$/],
    [["--name", "g", "--ip", "10.9.0.2/24"], /^pvnet create: 10\.9\.0\.2\/24 is not in vale0's subnet/],
    [
      ["--name", "g", "--ip", "10.0.0.5"],
      /^pvnet create: bad address "10\.0\.0\.5" \(expected a\.b\.c\.d\/N, N 1-32\)\n$/,
    ],
    [["--name", "a b"], /^pvnet create: bad name "a b" \(expected 1-64 letters/],
    [["--name", "g", "--bridge", "vale9"], /^pvnet create: no bridge named vale9 \(the host has vale0\)\n$/],
    [[], /^pvnet create: .*--name/],
  ] as const) {
    const e = await pvnet(["create", ...args]);
    assert.equal(e.code, 1, `${args.join(" ")}: ${e.out}`);
    assert.match(e.err, re);
  }
  assert.doesNotMatch((await pvnet(["list"])).out, /\ng /);
});

test("top full screen (in a terminal): the table refreshed in place, the terminal restored", async () => {
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} top -i 0.3 -n 2`;
  const r = await new Promise<Run>((resolve) =>
    execFile("script", ["-qec", cmd, "/dev/null"], { env, timeout: 30_000 }, (err, out, errOut) =>
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, out, err: errOut }),
    ),
  );
  assert.equal(r.code, 0, r.out + r.err);
  assert.ok(r.out.includes("\x1b[?1049h"), "the alternate screen");
  assert.equal(r.out.split("\x1b[H").length - 1, 3, "cleared once, drawn twice in place");
  assert.match(r.out, /pvnet top - \d\d:\d\d:\d\d {2}3 domains, 2 vifs {2}\(q: quit, s: sort by name\)/);
  assert.match(r.out, /vif2\.0 +guest2 Connected\/Connected/);
  assert.ok(r.out.trimEnd().endsWith("\x1b[?25h\x1b[?1049l"), "the terminal restored");
});
