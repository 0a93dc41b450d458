/**
 * Tap ports with the kernel on both sides of pvnet: `scripts/pvnet-tap` opens two taps and
 * runs `pvnet up` with them as uplinks of vale0; each tap is moved into a network namespace
 * of its own with an address, and the kernel in one reaches the kernel in the other only
 * through pvnet's switch: ping, `pvnet capture` of an uplink, then iperf3 TCP (the
 * throughput is printed). A second test puts a tap beside the default host's guests: the
 * kernel pings and UDP-echoes a guest, and a guest pings the kernel. Without root,
 * /dev/net/tun, ip, iperf3 or python3 the test skips with the reason, never passes.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DEFAULT_HOST_YAML } from "../../src/toolstack/config.js";
import { EPB_DIR_INBOUND, EPB_DIR_OUTBOUND, readPcapng } from "../../src/wire/pcapng.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const LAUNCHER = fileURLToPath(new URL("../../../scripts/pvnet-tap", import.meta.url));

function missing(): string | null {
  if (process.getuid?.() !== 0) return "not root (taps and namespaces need CAP_NET_ADMIN)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  for (const [cmd, arg, pkg] of [
    ["ip", "-V", "iproute2"],
    ["iperf3", "-v", "iperf3"],
    ["python3", "-V", "python3"],
  ] as const)
    if (spawnSync(cmd, [arg], { stdio: "ignore" }).status !== 0)
      return `${cmd} is not installed (apt-get install ${pkg})`;
  const ns = `pvnet-probe-${process.pid}`;
  if (spawnSync("ip", ["netns", "add", ns], { stdio: "ignore" }).status !== 0)
    return "cannot create network namespaces";
  spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  return null;
}

const sh = (args: string[]): string =>
  execFileSync(args[0]!, args.slice(1), { encoding: "utf8", timeout: 30_000 });
const inNs = (ns: string, args: string[]): string => sh(["ip", "netns", "exec", ns, ...args]);

test("two kernels on one VALE switch through two taps: ping, a capture of the uplink, then iperf3 TCP", {
  timeout: 120_000,
}, async (t) => {
  const why = missing();
  if (why !== null) return t.skip(why);
  const id = process.pid % 100000;
  const taps = [`pvt${id}a`, `pvt${id}b`];
  const nss = [`pvnet-tap-${id}-a`, `pvnet-tap-${id}-b`];
  const dir = mkdtempSync(join(tmpdir(), "pvnet-tap-"));
  const yaml = join(dir, "host.yaml");
  writeFileSync(
    yaml,
    `domains: [{ name: Domain-0 }]\nbridges:\n  vale0:\n    uplinks:\n      - tap: { name: ${taps[0]} }\n      - tap: { name: ${taps[1]} }\n`,
  );
  let up: ChildProcess | null = null;
  let server: ChildProcess | null = null;
  let out = "";
  try {
    up = spawn("python3", [LAUNCHER, ...taps, "--", process.execPath, MAIN, "up", yaml], {
      env: { ...process.env, PVNET_RUNDIR: dir },
    });
    up.stdout!.setEncoding("utf8").on("data", (c: string) => (out += c));
    up.stderr!.setEncoding("utf8").on("data", (c: string) => (out += c));
    const end = Date.now() + 30_000;
    while (!out.includes("control at")) {
      if (Date.now() > end || up.exitCode !== null) assert.fail(`pvnet up did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 0; i < 2; i++) {
      sh(["ip", "netns", "add", nss[i]!]);
      sh(["ip", "link", "set", taps[i]!, "netns", nss[i]!]);
      inNs(nss[i]!, ["ip", "link", "set", "lo", "up"]);
      inNs(nss[i]!, ["ip", "addr", "add", `10.99.0.${i + 1}/24`, "dev", taps[i]!]);
      inNs(nss[i]!, ["ip", "link", "set", taps[i]!, "up"]);
    }
    const ping = inNs(nss[0]!, ["ping", "-c", "3", "-i", "0.2", "-W", "5", "10.99.0.2"]);
    assert.match(ping, / 0% packet loss/);
    // The uplink can be captured like any port: echo requests in from tap a, replies out to it.
    const file = join(dir, "tap.pcapng");
    const cap = new Promise<number | null>((resolve) =>
      spawn(
        process.execPath,
        [MAIN, "capture", taps[0]!, "-w", file, "-c", "2", "--format", "pcapng", "icmp"],
        {
          env: { ...process.env, PVNET_RUNDIR: dir },
          stdio: "ignore",
        },
      ).on("close", resolve),
    );
    await new Promise((r) => setTimeout(r, 500));
    inNs(nss[0]!, ["ping", "-c", "3", "-i", "0.2", "-W", "5", "10.99.0.2"]);
    assert.equal(await cap, 0);
    const ng = readPcapng(readFileSync(file));
    assert.ok(!("error" in ng), JSON.stringify(ng));
    if ("error" in ng) return;
    assert.deepEqual(
      ng.packets.map((p) => [
        ng.interfaces[p.interfaceIndex]!.name,
        p.data[12],
        p.data[23],
        p.data[34],
        p.flags,
      ]),
      [
        [taps[0], 0x08, 1, 8, EPB_DIR_INBOUND],
        [taps[0], 0x08, 1, 0, EPB_DIR_OUTBOUND],
      ],
    );
    server = spawn("ip", ["netns", "exec", nss[1]!, "iperf3", "-s", "-1", "-B", "10.99.0.2"], {
      stdio: "ignore",
    });
    let json = "";
    for (let attempt = 0; attempt < 20 && json === ""; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      const r = spawnSync("ip", ["netns", "exec", nss[0]!, "iperf3", "-c", "10.99.0.2", "-t", "3", "-J"], {
        encoding: "utf8",
        timeout: 60_000,
      });
      if (r.status === 0) json = r.stdout;
    }
    assert.notEqual(json, "", "iperf3 never connected");
    const res = JSON.parse(json) as { end: { sum_received: { bits_per_second: number; bytes: number } } };
    const gbps = res.end.sum_received.bits_per_second / 1e9;
    t.diagnostic(
      `iperf3 TCP tap->pvnet->tap: ${gbps.toFixed(3)} Gbit/s (${res.end.sum_received.bytes} bytes)`,
    );
    assert.ok(res.end.sum_received.bytes > 0);
  } finally {
    server?.kill("SIGKILL");
    if (up !== null && up.exitCode === null) {
      up.kill("SIGINT");
      await new Promise((r) => {
        const timer = setTimeout(() => {
          up?.kill("SIGKILL");
          r(null);
        }, 10_000);
        up?.on("close", () => {
          clearTimeout(timer);
          r(null);
        });
      });
    }
    for (const ns of nss) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Starts `pvnet up yaml` through the launcher with `taps`; resolves once it listens. */
async function upWithTaps(
  dir: string,
  yaml: string,
  taps: string[],
): Promise<{ proc: ChildProcess; out: () => string }> {
  let out = "";
  const proc = spawn("python3", [LAUNCHER, ...taps, "--", process.execPath, MAIN, "up", yaml], {
    env: { ...process.env, PVNET_RUNDIR: dir },
  });
  proc.stdout!.setEncoding("utf8").on("data", (c: string) => (out += c));
  proc.stderr!.setEncoding("utf8").on("data", (c: string) => (out += c));
  const end = Date.now() + 30_000;
  while (!out.includes("control at")) {
    if (Date.now() > end || proc.exitCode !== null) assert.fail(`pvnet up did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, out: () => out };
}

async function stopUp(proc: ChildProcess | null): Promise<void> {
  if (proc === null || proc.exitCode !== null) return;
  proc.kill("SIGINT");
  await new Promise((r) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      r(null);
    }, 10_000);
    proc.on("close", () => {
      clearTimeout(timer);
      r(null);
    });
  });
}

test("a guest and the kernel through a tap: the kernel pings and UDP-echoes the guest, the guest pings the kernel", {
  timeout: 120_000,
}, async (t) => {
  const why = missing();
  if (why !== null) return t.skip(why);
  const id = process.pid % 100000;
  const tap = `pvg${id}`;
  const ns = `pvnet-tapg-${id}`;
  const dir = mkdtempSync(join(tmpdir(), "pvnet-tapg-"));
  const yaml = join(dir, "host.yaml");
  const text = DEFAULT_HOST_YAML.replace(
    "  vale0: {}\n",
    `  vale0: { uplinks: [{ tap: { name: ${tap} } }] }\n`,
  );
  assert.notEqual(text, DEFAULT_HOST_YAML);
  writeFileSync(yaml, text);
  let up: ChildProcess | null = null;
  try {
    up = (await upWithTaps(dir, yaml, [tap])).proc;
    sh(["ip", "netns", "add", ns]);
    sh(["ip", "link", "set", tap, "netns", ns]);
    inNs(ns, ["ip", "addr", "add", "10.0.0.9/24", "dev", tap]);
    inNs(ns, ["ip", "link", "set", tap, "up"]);
    assert.match(inNs(ns, ["ping", "-c", "3", "-i", "0.2", "-W", "5", "10.0.0.1"]), / 0% packet loss/);
    // UDP echo (port 7) from the kernel: the reply's checksum must be right for the kernel to deliver it.
    const echo = inNs(ns, [
      "python3",
      "-c",
      "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(5);" +
        "s.sendto(b'pvnet-tap',('10.0.0.2',7));print(s.recvfrom(100)[0].decode())",
    ]);
    assert.equal(echo.trim(), "pvnet-tap");
    const r = spawnSync(process.execPath, [MAIN, "ping", "guest1", "10.0.0.9", "-c", "2", "-i", "0.2"], {
      env: { ...process.env, PVNET_RUNDIR: dir },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /2 packets transmitted, 2 received/);
  } finally {
    await stopUp(up);
    spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  }
});
