/**
 * The device and guest-stack commands as a user runs them against `pvnet up` from other
 * processes: `pvnet create FILE`, `network-attach` / `network-detach` (the guest's stack
 * gains and loses the interface: a ping over the new vif works, then fails), `udp-echo`
 * both ways, a vif's hotplug script (a real shell script writing its environment, and a
 * failing one), and every command's one-line errors.
 */
import assert from "node:assert/strict";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pvnetRun, type Run, UpProcess } from "./running-host.js";

const host = new UpProcess(`pvnet-ctlops-${process.pid}-`);
const { env, dir } = host;

function pvnet(args: readonly string[]): Promise<Run> {
  return pvnetRun(args, env);
}

function noTrace(r: Run): void {
  assert.doesNotMatch(r.err, /\n\s+at /, r.err);
}

before(() => host.start());

after(async () => {
  await host.stop();
  host.remove();
});

test("create FILE, network-attach, ping over the new vif, network-detach: the stack loses it", {
  timeout: 120_000,
}, async () => {
  const file = join(dir, "guest3.yaml");
  writeFileSync(file, "# a guest with no vif yet\nname: guest3\nmemory: 16M\n");
  const c = await pvnet(["create", file]);
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /^created guest3 \(domain (\d+)\), no vifs\n$/);

  const a = await pvnet(["network-attach", "guest3", "ip=10.0.0.3", "bridge=vale0", "--json"]);
  assert.equal(a.code, 0, a.err);
  const j = JSON.parse(a.out) as { vif: string; devid: number; ip: string; mac: string; bridge: string };
  assert.equal(j.devid, 0);
  assert.equal(j.ip, "10.0.0.3/24", "a bare ip= takes the bridge's prefix");
  assert.equal(j.bridge, "vale0");

  const nl = await pvnet(["network-list", "guest3"]);
  assert.equal(nl.code, 0, nl.err);
  assert.match(nl.out, new RegExp(`^0 +0 +${j.mac} +0 +4 `, "m"), nl.out);

  // guest3's only stack is the new vif's: this echo goes over it.
  const p = await pvnet(["ping", "guest3", "10.0.0.1", "-c", "2", "-i", "0.1", "-W", "2"]);
  assert.equal(p.code, 0, p.out + p.err);
  assert.match(p.out, /from 10\.0\.0\.3 guest3/);
  assert.match(p.out, /2 packets transmitted, 2 received/);

  const d = await pvnet(["network-detach", "guest3", "0"]);
  assert.equal(d.code, 0, d.err);
  assert.equal(d.out, `detached ${j.vif} from guest3\n`);
  const nl2 = await pvnet(["network-list", "guest3", "--json"]);
  assert.deepEqual((JSON.parse(nl2.out) as { nics: unknown[] }).nics, []);
  const p2 = await pvnet(["ping", "guest3", "10.0.0.1", "-c", "1"]);
  assert.equal(p2.code, 1);
  assert.equal(p2.err, "pvnet ping: no vif with an IP stack is up\n");
  // And the others never noticed.
  const p3 = await pvnet(["ping", "guest1", "10.0.0.2", "-c", "1", "-W", "2"]);
  assert.equal(p3.code, 0, p3.out);
  const x = await pvnet(["destroy", "guest3"]);
  assert.equal(x.code, 0, x.err);
});

test("create FILE: a guest with a vif connects; bad files fail naming the field and its line", {
  timeout: 60_000,
}, async () => {
  const file = join(dir, "guest4.yaml");
  writeFileSync(file, "name: guest4\nvifs:\n  - ip: 10.0.0.4/24\n");
  const c = await pvnet(["create", file, "--json"]);
  assert.equal(c.code, 0, c.err);
  const j = JSON.parse(c.out) as { domain: string; vifs: { vif: string; ip: string; mac: string }[] };
  assert.equal(j.domain, "guest4");
  assert.equal(j.vifs[0]?.ip, "10.0.0.4/24");
  assert.match(j.vifs[0]!.mac, /^00:16:3e:/);
  const p = await pvnet(["ping", "guest4", "10.0.0.2", "-c", "1", "-W", "2"]);
  assert.equal(p.code, 0, p.out);
  assert.equal((await pvnet(["destroy", "guest4"])).code, 0);

  const bad = join(dir, "bad.yaml");
  for (const [text, re] of [
    [
      "name: guest5\nvifs:\n  - mac: zz\n",
      /^pvnet create: .*bad\.yaml:3:\d+: vifs\[0\]\.mac: .*\(expected a MAC address/,
    ],
    [
      "name: guest5\nvifs:\n  - bridge: vale7\n",
      /^pvnet create: .*bad\.yaml:3:\d+: vifs\[0\]\.bridge: no bridge named "vale7" \(expected one of: vale0\)/,
    ],
    ["name: guest5\ncolour: red\n", /^pvnet create: .*bad\.yaml:2:1: colour: /],
    ["name: guest1\n", /^pvnet create: name: a domain named guest1 exists\n$/],
    ["name: guest5\nvifs:\n  - ip: 10.0.0.2/24\n", /^pvnet create: vifs\[0\]\.ip: 10\.0\.0\.2 is vif2\.0's/],
    ["name: guest5\nvifs:\n  - script: run.sh\n", /^pvnet create: .*vifs\[0\]\.script: .*absolute path/],
  ] as const) {
    writeFileSync(bad, text);
    const r = await pvnet(["create", bad]);
    assert.equal(r.code, 1, text);
    assert.match(r.err, re, text);
    assert.equal(r.err.split("\n").length, 2, `one line: ${r.err}`);
  }
  const none = await pvnet(["create", join(dir, "absent.yaml")]);
  assert.match(none.err, /^pvnet create: .*absent\.yaml: no such file \(ENOENT\)/);
  const both = await pvnet(["create", bad, "--name", "x"]);
  assert.match(both.err, /^pvnet create: a guest file and --name/);
  const list = await pvnet(["list", "--json"]);
  assert.deepEqual(
    (JSON.parse(list.out) as { name: string }[]).map((d) => d.name),
    ["Domain-0", "guest1", "guest2"],
  );
});

test("udp-echo: --listen in guest1, datagrams from guest2 with their round trips; port 7 by default", {
  timeout: 60_000,
}, async () => {
  const l = await pvnet(["udp-echo", "guest1", "--listen", "9000"]);
  assert.equal(l.code, 0, l.err);
  assert.equal(l.out, "guest1: UDP echo on port 9000 (10.0.0.1)\n");
  const r = await pvnet([
    "udp-echo",
    "guest2",
    "10.0.0.1",
    "9000",
    "-c",
    "3",
    "-i",
    "0.1",
    "-s",
    "100",
    "-W",
    "2",
  ]);
  assert.equal(r.code, 0, r.out + r.err);
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines[0], "UDP ECHO 10.0.0.1:9000 from 10.0.0.2 guest2: 100 bytes of data.");
  for (let i = 1; i <= 3; i++)
    assert.match(
      lines[i]!,
      new RegExp(`^100 bytes from 10\\.0\\.0\\.1:9000: seq=${i} time=\\d+(\\.\\d+)? ms$`),
    );
  assert.equal(lines[5], "--- 10.0.0.1:9000 udp-echo statistics ---");
  assert.match(lines[6]!, /^3 sent, 3 received, 0% loss, time \d+ms$/);
  assert.match(lines[7]!, /^rtt min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms$/);

  const j = await pvnet(["udp-echo", "guest1", "10.0.0.2", "-c", "2", "-i", "0.1", "-W", "2", "--json"]);
  assert.equal(j.code, 0, j.err);
  const o = JSON.parse(j.out) as { port: number; received: number; echoes: { ok: boolean }[] };
  assert.equal(o.port, 7);
  assert.equal(o.received, 2);

  const none = await pvnet(["udp-echo", "guest2", "10.0.0.1", "9001", "-c", "1", "-W", "0.3"]);
  assert.equal(none.code, 1);
  assert.match(none.out, /no echo from 10\.0\.0\.1:9001: seq=1 timeout/);
  assert.match(none.out, /1 sent, 0 received, 100% loss/);
  const twice = await pvnet(["udp-echo", "guest1", "--listen", "9000"]);
  assert.equal(twice.code, 1);
  assert.equal(twice.err, "pvnet udp-echo: port 9000 is in use\n");
});

test("network-attach script=: run online and offline with Xen's environment; a failing one fails the attach", {
  timeout: 90_000,
}, async () => {
  const envFile = join(dir, "hotplug-env.txt");
  const ok = join(dir, "vif-log.sh");
  const bad = join(dir, "vif-fail.sh");
  writeFileSync(
    ok,
    `#!/bin/sh\necho "$1 script=$script XENBUS_PATH=$XENBUS_PATH XENBUS_TYPE=$XENBUS_TYPE vif=$vif" >> ${envFile}\n` +
      `[ -n "$XENSTORED_PATH" ] && echo "xenstored=$XENSTORED_PATH" >> ${envFile}\nexit 0\n`,
  );
  writeFileSync(bad, "#!/bin/sh\necho 'vif-fail: no such bridge br9' >&2\nexit 1\n");
  chmodSync(ok, 0o755);
  chmodSync(bad, 0o755);
  const a = await pvnet(["network-attach", "guest1", "ip=10.0.0.21/24", `script=${ok}`, "--json"]);
  assert.equal(a.code, 0, a.err);
  const j = JSON.parse(a.out) as { vif: string; devid: number };
  const p = await pvnet(["ping", "guest2", "10.0.0.21", "-c", "1", "-W", "2"]);
  assert.equal(p.code, 0, "the vif joined its bridge after the script");
  const d = await pvnet(["network-detach", "guest1", String(j.devid), "--json"]);
  assert.equal(d.code, 0, d.err);
  assert.equal((JSON.parse(d.out) as { closed: boolean }).closed, true);
  const tail = `script=${ok} XENBUS_PATH=backend/vif/1/${j.devid} XENBUS_TYPE=vif vif=${j.vif}`;
  assert.deepEqual(readFileSync(envFile, "utf8").trimEnd().split("\n"), [
    `online ${tail}`,
    `xenstored=${join(dir, "xenstored.sock")}`,
    `offline ${tail}`,
    `xenstored=${join(dir, "xenstored.sock")}`,
  ]);

  const f = await pvnet(["network-attach", "guest1", `script=${bad}`]);
  assert.equal(f.code, 1);
  assert.match(
    f.err,
    /^pvnet network-attach: vif1\.\d+: hotplug failed: vif-fail: no such bridge br9; removed it\n$/,
  );
  const nl = await pvnet(["network-list", "guest1", "--json"]);
  assert.equal((JSON.parse(nl.out) as { nics: unknown[] }).nics.length, 1, "only vif1.0 is left");
  const file = join(dir, "guest6.yaml");
  writeFileSync(file, `name: guest6\nvifs:\n  - script: ${bad}\n`);
  const c = await pvnet(["create", file]);
  assert.equal(c.code, 1);
  assert.match(
    c.err,
    /^pvnet create: vif\d+\.0: hotplug failed: vif-fail: no such bridge br9; destroyed guest6\n$/,
  );
});

test("every new command: one line and exit 1 for no host, an unknown name or device, bad words", async () => {
  const none = join(dir, "none.sock");
  for (const [args, re] of [
    [["network-attach", "guest1", "--control", none], /^pvnet network-attach: no pvnet host is running/],
    [["network-detach", "guest1", "0", "--control", none], /^pvnet network-detach: no pvnet host is running/],
    [["udp-echo", "guest1", "--listen", "9", "--control", none], /^pvnet udp-echo: no pvnet host is running/],
    [["create", join(dir, "x.yaml"), "--control", none], /^pvnet create: .*x\.yaml: no such file/],
    [["network-attach", "nobody"], /^pvnet network-attach: no domain named nobody\n$/],
    [["network-detach", "nobody", "0"], /^pvnet network-detach: no domain named nobody\n$/],
    [["udp-echo", "nobody", "10.0.0.1"], /^pvnet udp-echo: no domain named nobody\n$/],
    [
      ["network-detach", "guest1", "5"],
      /^pvnet network-detach: guest1 has no vif 5 \(it has 0 00:16:3e:00:01:00\)\n$/,
    ],
    [
      ["network-detach", "guest1", "00:16:3e:99:99:99"],
      /^pvnet network-detach: guest1 has no vif 00:16:3e:99:99:99/,
    ],
    [["network-attach", "Domain-0"], /^pvnet network-attach: Domain-0 runs the backends/],
    [["network-attach", "guest1", "colour=red"], /^pvnet network-attach: bad device setting "colour=red"/],
    [["network-attach", "guest1", "bridge=vale9"], /^pvnet network-attach: no bridge named vale9/],
    [["network-attach", "guest1", "ip=10.0.0"], /^pvnet network-attach: bad address "10\.0\.0"/],
    [["udp-echo", "guest1"], /^pvnet udp-echo: no address/],
    [["udp-echo", "guest1", "10.0.0.2", "70000"], /^pvnet udp-echo: bad port "70000"/],
    [["udp-echo", "guest1", "10.0.0.2", "-s", "9000"], /^pvnet udp-echo: .*bytes 0\.\.1472/],
  ] as const) {
    const r = await pvnet(args);
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.out}${r.err}`);
    assert.match(r.err, re, args.join(" "));
    noTrace(r);
  }
});
