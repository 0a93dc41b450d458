/**
 * `bridges.<name>.capture`: the default host with a capture on vale0 pings for about a
 * second, shuts down, and tshark (an implementation independent of ours) reads the file:
 * ARP and ICMP echo request and reply between 10.0.0.1 and 10.0.0.2 both ways, and in
 * pcapng each frame on the interface of the port it entered by. Without tshark the tshark
 * checks skip with the reason, never pass.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  DEFAULT_HOST_YAML,
  formatIssue,
  type HostConfig,
  parseHostConfig,
} from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import { readPcap } from "../../src/wire/pcap.js";
import { readPcapng } from "../../src/wire/pcapng.js";

const HAVE_TSHARK = spawnSync("tshark", ["-v"], { stdio: "ignore" }).status === 0;
const dir = mkdtempSync(join(tmpdir(), "pvnet-capture-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function withCapture(capture: string): HostConfig {
  const text = DEFAULT_HOST_YAML.replace("  vale0: {}\n", `  vale0: { capture: ${capture} }\n`);
  assert.notEqual(text, DEFAULT_HOST_YAML);
  const r = parseHostConfig(text, "h.yaml");
  assert.ok(r.ok, r.ok ? "" : r.issues.map(formatIssue).join("\n"));
  return r.config;
}

/** Boots the host with `config`, lets the guests ping for `ms`, shuts down; the logs. */
async function run(config: HostConfig, ms: number): Promise<string[]> {
  const logs: string[] = [];
  const host = await Host.boot(config, {
    socketPath: null,
    ping: { count: 0, intervalMs: 50, timeoutMs: 500 },
    log: (l) => logs.push(l),
  });
  try {
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    await host.shutdown();
  }
  return logs;
}

function tshark(file: string, fields: string[]): string[][] {
  const out = execFileSync("tshark", ["-r", file, "-T", "fields", ...fields.flatMap((f) => ["-e", f])], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return out
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t"));
}

/** ARP present, and echo request and reply each way between the guests. */
function assertPingExchange(rows: string[][]): void {
  const seen = new Set(rows.map((r) => r.join(" ")));
  for (const want of [
    "10.0.0.1 10.0.0.2 8",
    "10.0.0.2 10.0.0.1 0",
    "10.0.0.2 10.0.0.1 8",
    "10.0.0.1 10.0.0.2 0",
  ])
    assert.ok(seen.has(want), `${want} in ${[...seen].join(" | ")}`);
}

test("capture: { file } writes a pcap of the guests' ARP and pings that tshark reads; the count is logged", async (t) => {
  const file = join(dir, "vale0.pcap");
  const logs = await run(withCapture(`{ file: "${file}" }`), 1000);
  const bytes = readFileSync(file);
  const pcap = readPcap(bytes);
  assert.ok(!("error" in pcap), JSON.stringify(pcap).slice(0, 200));
  const n = "records" in pcap ? pcap.records.length : 0;
  assert.ok(n >= 8, `${n} frames`);
  assert.ok(
    logs.some((l) => l === `capture vale0: ${n} frames to ${file}, 0 dropped`),
    logs.join("\n"),
  );
  if (!HAVE_TSHARK) return t.skip("tshark not installed");
  const rows = tshark(file, ["ip.src", "ip.dst", "icmp.type"]);
  assert.equal(rows.length, n);
  assertPingExchange(rows);
  const arp = tshark(file, ["arp.opcode"]).filter((r) => r[0] !== "");
  assert.ok(arp.some((r) => r[0] === "1") && arp.some((r) => r[0] === "2"), JSON.stringify(arp));
});

test("capture: { format: pcapng } names an interface per port: each frame shows the vif it came from", async (t) => {
  const file = join(dir, "vale0.pcapng");
  await run(withCapture(`{ file: "${file}", format: pcapng }`), 1000);
  const ng = readPcapng(readFileSync(file));
  assert.ok(!("error" in ng), JSON.stringify(ng).slice(0, 200));
  if ("error" in ng) return;
  assert.deepEqual(ng.interfaces.map((i) => i.name).sort(), ["vif1.0", "vif2.0"]);
  if (!HAVE_TSHARK) return t.skip("tshark not installed");
  const rows = tshark(file, ["frame.interface_name", "ip.src", "ip.dst", "icmp.type"]);
  assertPingExchange(rows.map((r) => r.slice(1)));
  for (const r of rows.filter((x) => x[1] !== "")) {
    const from = r[1] === "10.0.0.1" ? "vif1.0" : "vif2.0";
    assert.equal(r[0], from, r.join(" "));
  }
  assert.ok(
    rows.some((r) => r[1] === "" && r[0] !== ""),
    "an ARP frame",
  );
});

test("capture: { count: 3 } stops after three frames", async () => {
  const file = join(dir, "three.pcap");
  const logs = await run(withCapture(`{ file: "${file}", count: 3 }`), 300);
  const pcap = readPcap(readFileSync(file));
  assert.equal("records" in pcap ? pcap.records.length : -1, 3);
  assert.ok(logs.includes(`capture vale0: 3 frames to ${file}, 0 dropped`), logs.join("\n"));
});

test("capture: a file in a missing directory is one config error, naming the field", () => {
  const text = DEFAULT_HOST_YAML.replace(
    "  vale0: {}\n",
    `  vale0: { capture: { file: "${join(dir, "missing", "x.pcap")}" } }\n`,
  );
  const r = parseHostConfig(text, "h.yaml");
  assert.equal(r.ok, false);
  const issues = r.ok ? [] : r.issues;
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.field, "bridges.vale0.capture.file");
  assert.match(formatIssue(issues[0]!), /missing does not exist/);
});
