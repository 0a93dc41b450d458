/**
 * Interop: files from PcapWriter and PcapngWriter, read by tshark (Wireshark's dissectors,
 * an implementation independent of ours). tshark also validates the IPv4, UDP and ICMP
 * checksums we computed. Without tshark the tests skip with the reason, never pass.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type Mem, privateMem } from "../../src/wire/mem.js";
import { ETH_HLEN, ETH_P_IP, emitEthernet } from "../../src/wire/net/ethernet.js";
import { emitIcmp, ICMP_ECHO, icmpReprLen } from "../../src/wire/net/icmp.js";
import { emitIpv4Header, IPPROTO_ICMP, IPPROTO_UDP, IPV4_HLEN } from "../../src/wire/net/ipv4.js";
import { emitUdp, UDP_HLEN } from "../../src/wire/net/udp.js";
import { emitVxlan, VXLAN_HLEN, VXLAN_PORT } from "../../src/wire/net/vxlan.js";
import { PcapWriter } from "../../src/wire/pcap.js";
import { PcapngWriter } from "../../src/wire/pcapng.js";
import { ARP_REQUEST_FRAME } from "../wire/net/fixtures.js";

const HAVE_TSHARK = spawnSync("tshark", ["-v"], { stdio: "ignore" }).status === 0;
const SADDR = 0x0a00_0001; // 10.0.0.1
const DADDR = 0x0a00_0002;
const TS_SEC = 1_700_000_000;

/** Ethernet + IPv4 around an L4 payload that `fill` writes at the given offset. */
function ipFrame(protocol: number, l4Len: number, fill: (b: Uint8Array, at: number) => void): Uint8Array {
  const b = new Uint8Array(ETH_HLEN + IPV4_HLEN + l4Len);
  emitEthernet({ dst: 0x0200_0000_0002, src: 0x0200_0000_0001, ethertype: ETH_P_IP }, b);
  const ip = {
    tos: 0,
    id: 0x1234,
    dontFrag: true,
    moreFrags: false,
    fragOffset: 0,
    ttl: 64,
    protocol,
    saddr: SADDR,
    daddr: DADDR,
    options: new Uint8Array(0),
    payloadLen: l4Len,
  };
  emitIpv4Header(ip, b, ETH_HLEN);
  fill(b, ETH_HLEN + IPV4_HLEN);
  return b;
}

/** Ethernet/IPv4/UDP(4789)/VXLAN VNI 42/the captured ARP request. */
function vxlanArpFrame(): Uint8Array {
  const inner = new Uint8Array(VXLAN_HLEN + ARP_REQUEST_FRAME.length);
  emitVxlan({ vni: 42 }, inner);
  inner.set(ARP_REQUEST_FRAME, VXLAN_HLEN);
  const udp = { source: 54321, dest: VXLAN_PORT, data: inner };
  return ipFrame(IPPROTO_UDP, UDP_HLEN + inner.length, (b, at) =>
    emitUdp(udp, b, at, { saddr: SADDR, daddr: DADDR }),
  );
}

function icmpEchoFrame(): Uint8Array {
  const echo = {
    type: ICMP_ECHO,
    code: 0,
    id: 1,
    sequence: 1,
    data: Uint8Array.from({ length: 33 }, (_, i) => i),
  };
  return ipFrame(IPPROTO_ICMP, icmpReprLen(echo), (b, at) => emitIcmp(echo, b, at));
}

function asMem(frame: Uint8Array): Mem {
  const m = privateMem(frame.length);
  m.u8.set(frame);
  return m;
}

const FIELDS = ["vxlan.vni", "arp.dst.proto_ipv4", "icmp.type", "ip.checksum.status", "udp.checksum.status"];

/** tshark's field lines for `bytes` written to a temporary file `name`. */
function tsharkFields(name: string, bytes: Uint8Array, extra: string[] = []): string[][] {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-tshark-"));
  try {
    const file = join(dir, name);
    writeFileSync(file, bytes);
    const args = [
      "-r",
      file,
      "-o",
      "ip.check_checksum:TRUE",
      "-o",
      "udp.check_checksum:TRUE",
      "-T",
      "fields",
    ];
    for (const f of [...FIELDS, "icmp.checksum.status", ...extra]) args.push("-e", f);
    const out = execFileSync("tshark", args, {
      encoding: "utf8",
      timeout: 60_000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return out
      .trimEnd()
      .split("\n")
      .map((line) => line.split("\t"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Status 1 is Wireshark's "Good" checksum. */
const EXPECTED = [
  ["42", "192.168.42.2", "", "1", "1", ""],
  ["", "", "8", "1", "", "1"],
];

test("tshark decodes a pcap of VXLAN/ARP and ICMP echo and finds every checksum good", (t) => {
  if (!HAVE_TSHARK) return t.skip("tshark not installed");
  const out = privateMem(1024);
  const w = new PcapWriter(out);
  for (const [i, frame] of [vxlanArpFrame(), icmpEchoFrame()].entries()) {
    assert.ok(w.writePacket(TS_SEC + i, 123_456, asMem(frame), 0, frame.length));
  }
  const rows = tsharkFields("capture.pcap", out.u8.subarray(0, w.length), ["frame.time_epoch"]);
  assert.deepEqual(
    rows.map((r) => r.slice(0, 6)),
    EXPECTED,
  );
  assert.deepEqual(
    rows.map((r) => r[6]),
    ["1700000000.123456000", "1700000001.123456000"],
  );
});

test("tshark decodes the same frames from a pcapng with ns timestamps", (t) => {
  if (!HAVE_TSHARK) return t.skip("tshark not installed");
  const out = privateMem(1024);
  const w = new PcapngWriter(out);
  assert.ok(w.writeShb("pvnet interop test"));
  assert.equal(w.writeIdb({ name: "vif1.0", tsresol: 9 }), 0);
  for (const [i, frame] of [vxlanArpFrame(), icmpEchoFrame()].entries()) {
    assert.ok(w.writeEpb(0, TS_SEC + i, 987_654_321, asMem(frame), 0, frame.length));
  }
  const rows = tsharkFields("capture.pcapng", out.u8.subarray(0, w.length), [
    "frame.time_epoch",
    "frame.interface_name",
  ]);
  assert.deepEqual(
    rows.map((r) => r.slice(0, 6)),
    EXPECTED,
  );
  assert.deepEqual(
    rows.map((r) => r.slice(6)),
    [
      ["1700000000.987654321", "vif1.0"],
      ["1700000001.987654321", "vif1.0"],
    ],
  );
});
