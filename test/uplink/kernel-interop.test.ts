/**
 * pvnet's VXLAN uplink against the Linux kernel's vxlan device: the kernel's device (VNI
 * 42, port 4789, address 10.0.0.200/24 in the guests' subnet) lives in a namespace of its
 * own, joined by a veth pair to this process's namespace, where the host runs with its
 * uplink on the veth's address (the kernel takes port 4789 in its namespace, so the two
 * cannot share one).
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import type { VxlanStatus } from "../../src/uplink/status.js";
import {
  cleanup,
  hasCommand,
  inNs,
  ip,
  netnsUnavailable,
  PY_UDP_ECHO,
  PY_UDP_SEND,
  spawnInNs,
} from "./netns.js";

const ipValue = (s: string): number => s.split(".").reduce((a, o) => a * 256 + Number(o), 0) >>> 0;

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const why =
  netnsUnavailable() ??
  (hasCommand("python3") ? null : "needs python3 for the kernel's UDP side") ??
  (hasCommand("ping", ["-V"]) ? null : "needs ping (iputils-ping)") ??
  (hasCommand("ethtool") ? null : "needs ethtool");

test("the Linux kernel's vxlan device and a pvnet guest: ping and UDP echo both ways, over-MTU dropped and counted", async (t) => {
  if (why !== null) {
    t.skip(why);
    return;
  }
  const pid = process.pid;
  const ns = `pvxk${pid}`;
  const vh = `vxh${pid}`;
  const vn = `vxn${pid}`;
  // An outer subnet of this run's own, so parallel runs never share addresses.
  const net = `100.${64 + (pid % 60)}.${(pid >> 6) % 250}`;
  const hostAddr = `${net}.1`;
  const kernAddr = `${net}.2`;
  let host: Host | null = null;
  let echo: ChildProcess | null = null;
  try {
    ip(`netns add ${ns}`);
    ip(`link add ${vh} type veth peer name ${vn}`);
    ip(`link set ${vn} netns ${ns}`);
    ip(`addr add ${hostAddr}/24 dev ${vh}`);
    ip(`link set ${vh} up`);
    ip(`link set lo up`, ns);
    ip(`addr add ${kernAddr}/24 dev ${vn}`, ns);
    ip(`link set ${vn} up`, ns);
    ip(`link add vxlan42 type vxlan id 42 dstport 4789 remote ${hostAddr} local ${kernAddr} dev ${vn}`, ns);
    // Over veth the kernel leaves the inner UDP checksum for "hardware" to finish
    // (CHECKSUM_PARTIAL: only the pseudo-header sum is in the field), which no NIC does on
    // this path; with TX checksumming off it sends what a NIC would have put on the wire.
    const eth = await inNs(ns, ["ethtool", "-K", "vxlan42", "tx", "off"]);
    assert.equal(eth.code, 0, `ethtool -K vxlan42 tx off: ${eth.err}`);
    ip(`addr add 10.0.0.200/24 dev vxlan42`, ns);
    ip(`link set vxlan42 up`, ns);

    const r = parseHostConfig(
      `
domains:
  - name: Domain-0
  - name: g1
    vifs: [{ ip: 10.0.0.1/24, bridge: vale0 }]
bridges:
  vale0:
    uplinks: [{ vxlan: { local: ${hostAddr}, vni: 42, remotes: [${kernAddr}] } }]
`,
      "interop.yaml",
    );
    assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.issues));
    host = await Host.boot(r.config, { socketPath: null, statusMs: 50 });
    const h = host;
    const uplink = () => {
      const u = h.status().uplinks[0]!;
      assert.equal(u.type, "vxlan");
      return u as VxlanStatus;
    };

    const ping = await inNs(ns, ["ping", "-c", "3", "-i", "0.3", "-W", "3", "10.0.0.1"]);
    assert.equal(ping.code, 0, `kernel ping 10.0.0.1:\n${ping.out}${ping.err}`);
    assert.match(ping.out, /3 received/);

    const back = await h.ping("g1", ipValue("10.0.0.200"), 3000);
    assert.ok(back.ok, `the guest's ping of the kernel: ${back.reason}`);
    assert.equal(back.from, "10.0.0.1");

    const kernelMac = ip("-j link show vxlan42", ns).match(/"address":"([0-9a-f:]{17})"/)?.[1];
    assert.ok(kernelMac !== undefined);
    await until("the kernel's MAC learnt against its address", () =>
      uplink().learnt.some((e) => e.mac === kernelMac && e.remote === kernAddr),
    );

    const udp = await inNs(ns, ["python3", "-c", PY_UDP_SEND, "10.0.0.1", "7", String(pid)]);
    assert.equal(udp.code, 0, `kernel to guest UDP echo: ${udp.out}${udp.err}`);
    assert.match(udp.out, /^echo \d+ 10\.0\.0\.1/);

    echo = spawnInNs(ns, ["python3", "-c", PY_UDP_ECHO, "10.0.0.200", "7777"]);
    const e = echo;
    let said = "";
    e.stdout?.setEncoding("utf8").on("data", (c: string) => (said += c));
    await until("the kernel's echo server", () => said.includes("ready"));
    const res = await h.udpEcho("g1", ipValue("10.0.0.200"), 7777, 56, 3000);
    assert.ok(res.ok, `guest to kernel UDP echo: ${res.reason}`);
    assert.equal(res.from, "10.0.0.1");

    // The kernel's device may send above pvnet's MTU once its own is raised: pvnet drops
    // each such datagram and counts it, and what fits still passes.
    const before = uplink().counters.rx_length_errors;
    ip(`link set ${vh} mtu 9000`);
    ip(`link set ${vn} mtu 9000`, ns);
    ip("link set vxlan42 mtu 2000", ns);
    const big = await inNs(ns, ["ping", "-c", "2", "-i", "0.3", "-W", "1", "-s", "1600", "10.0.0.1"]);
    assert.notEqual(big.code, 0, "an over-MTU ping must not be answered");
    await until("over-MTU datagrams counted", () => uplink().counters.rx_length_errors >= before + 2);
    const small = await inNs(ns, ["ping", "-c", "1", "-W", "3", "10.0.0.1"]);
    assert.equal(small.code, 0, "a frame that fits still passes");

    const c = uplink().counters;
    assert.ok(c.rx_packets > 0 && c.tx_packets > 0, JSON.stringify(c));
    assert.equal(c.rx_frame_errors, 0);
    const k = JSON.parse(ip("-s -j link show vxlan42", ns)) as { stats64: { rx: { packets: number } } }[];
    assert.ok(k[0]!.stats64.rx.packets > 0, "the kernel's device counted what pvnet sent");
  } finally {
    echo?.kill();
    await host?.shutdown();
    cleanup([ns], [vh]);
  }
});
