/**
 * A ping exchange between two stacks written with PcapWriter; tshark, when installed,
 * decodes it independently as ARP then ICMP echo request/reply with good checksums.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isParseError } from "../../src/wire/layout.js";
import { privateMem } from "../../src/wire/mem.js";
import { PcapWriter, readPcap } from "../../src/wire/pcap.js";
import { IP_B, pair, type SentFrame } from "./harness.js";

const HAVE_TSHARK = spawnSync("tshark", ["-v"], { stdio: "ignore" }).status === 0;

async function capturePing(): Promise<Uint8Array> {
  const p = pair({ latencyMs: 1, up: false });
  const out = privateMem(8192);
  const w = new PcapWriter(out);
  const frame = privateMem(2048);
  const tap = (dev: typeof p.devA) => {
    const next = dev.onSend!;
    dev.onSend = (f: SentFrame) => {
      frame.u8.set(f.bytes);
      assert.ok(w.writePacket(1_700_000_000, p.timers.now * 1000, frame, 0, f.bytes.length));
      next(f);
    };
  };
  tap(p.devA);
  tap(p.devB);
  p.a.up();
  p.b.up();
  p.timers.advance(5);
  const r = p.a.ping(IP_B, { dataLen: 48 });
  p.timers.advance(10);
  assert.equal((await r).ok, true);
  return out.u8.slice(0, w.length);
}

test("a captured ping exchange reads back as 2 gratuitous ARPs, ARP request/reply, echo request/reply", async () => {
  const file = readPcap(await capturePing());
  assert.ok(!isParseError(file));
  const kinds = file.records.map((r) => {
    const d = r.data;
    const type = (d[12] << 8) | d[13];
    return type === 0x0806 ? `arp${d[21]}` : `icmp${d[34]}`;
  });
  assert.deepEqual(kinds, ["arp1", "arp1", "arp1", "arp2", "icmp8", "icmp0"]);
});

test("tshark decodes the ping capture as ICMP echo request and reply with good checksums", async (t) => {
  if (!HAVE_TSHARK) return t.skip("tshark not installed (apt-get install tshark to run this check)");
  const dir = mkdtempSync(join(tmpdir(), "pvnet-stack-"));
  try {
    const path = join(dir, "ping.pcap");
    writeFileSync(path, await capturePing());
    const out = execFileSync(
      "tshark",
      [
        "-r",
        path,
        "-o",
        "ip.check_checksum:TRUE",
        "-T",
        "fields",
        "-e",
        "icmp.type",
        "-e",
        "icmp.checksum.status",
        "-e",
        "ip.checksum.status",
        "-Y",
        "icmp",
      ],
      { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "ignore"] },
    );
    assert.deepEqual(
      out
        .trimEnd()
        .split("\n")
        .map((l) => l.split("\t")),
      [
        ["8", "1", "1"],
        ["0", "1", "1"],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
