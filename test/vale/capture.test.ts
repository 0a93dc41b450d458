/**
 * ValeCapture on its own: frames from ring ports (the switch's `forward`) land in the file
 * once each with the port's interface in pcapng; a full staging buffer drops from the
 * capture and counts, never blocking; a frame in several fragments is written whole.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSlot,
  slotBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../../src/netmap/layout.js";
import type { NetmapPort } from "../../src/netmap/port.js";
import { nmRingNext } from "../../src/netmap/ring.js";
import { ValeCapture } from "../../src/vale/capture.js";
import { ValeFrags } from "../../src/vale/frags.js";
import { ValePort } from "../../src/vale/port.js";
import { NM_BDG_BROADCAST, ValeSwitch } from "../../src/vale/switch.js";
import { privateMem } from "../../src/wire/mem.js";
import { readPcap } from "../../src/wire/pcap.js";
import { readPcapng } from "../../src/wire/pcapng.js";

const dir = mkdtempSync(join(tmpdir(), "pvnet-vcap-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** One 60-byte broadcast frame from port `p`, its byte 14 = tag. */
function send(p: NetmapPort, src: number, tag: number): void {
  const m = p.mem;
  const r = p.tx[0].r;
  const h = ringHead(m, r);
  const s = ringSlot(r, h);
  const off = p.region.bufOff(slotBufIdx(m, s));
  m.u8.fill(0, off, off + 60);
  m.u8.set([255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, src, 0x08, 0x00, tag], off);
  slotSetLen(m, s, 60);
  slotSetFlags(m, s, 0);
  const n = nmRingNext(p.tx[0].numSlots, h);
  ringSetHead(m, r, n);
  ringSetCur(m, r, n);
  p.txsync();
}

test("pcapng: each forwarded frame once, on the interface named as its port; nothing after close", async () => {
  const sw = new ValeSwitch("vale0");
  const a = new ValePort(sw, "p0", 64).open();
  const b = new ValePort(sw, "p1", 64).open();
  const file = join(dir, "ring.pcapng");
  const cap = await ValeCapture.open(sw, { file, format: "pcapng" });
  send(a, 0xa, 1);
  send(b, 0xb, 2);
  send(a, 0xa, 3);
  const stats = await cap.close();
  send(a, 0xa, 4);
  assert.equal(sw.tap, null);
  assert.deepEqual(stats, { frames: 3, drops: 0, bytes: readFileSync(file).length });
  const ng = readPcapng(readFileSync(file));
  assert.ok(!("error" in ng));
  if ("error" in ng) return;
  assert.deepEqual(
    ng.packets.map((p) => [ng.interfaces[p.interfaceIndex]!.name, p.data[14], p.origLen]),
    [
      ["p0", 1, 60],
      ["p1", 2, 60],
      ["p0", 3, 60],
    ],
  );
});

test("a full staging buffer drops from the capture and counts; what fit is written whole", async () => {
  const sw = new ValeSwitch("vale0");
  const file = join(dir, "small.pcap");
  // 24-byte header + 3 records of 16 + 60: the fourth does not fit.
  const logs: string[] = [];
  const cap = await ValeCapture.open(sw, {
    file,
    format: "pcap",
    bufferBytes: 256,
    log: (l) => logs.push(l),
  });
  const mem = privateMem(64);
  const f = new ValeFrags(mem);
  for (let i = 0; i < 10; i++) {
    mem.u8[14] = i;
    f.clear();
    f.push(mem, 0, 60);
    cap.frame(0, f, NM_BDG_BROADCAST);
  }
  assert.deepEqual([cap.stats.frames, cap.stats.drops], [3, 7]);
  assert.deepEqual(logs, ["capture vale0: the disk is behind, frames dropped from the capture (counted)"]);
  await cap.close();
  const pcap = readPcap(readFileSync(file));
  assert.deepEqual("records" in pcap ? pcap.records.map((r) => r.data[14]) : pcap, [0, 1, 2]);
});

test("a frame in several fragments is written as one record of its bytes in order", async () => {
  const sw = new ValeSwitch("vale0");
  const file = join(dir, "frags.pcap");
  const cap = await ValeCapture.open(sw, { file, format: "pcap" });
  const m1 = privateMem(32);
  const m2 = privateMem(64);
  m1.u8.set(Array.from({ length: 20 }, (_, i) => i));
  m2.u8.set(Array.from({ length: 50 }, (_, i) => 100 + i));
  const f = new ValeFrags(m1);
  f.push(m1, 0, 20);
  f.push(m2, 10, 40);
  cap.frame(0, f, NM_BDG_BROADCAST);
  await cap.close();
  const pcap = readPcap(readFileSync(file));
  const data = "records" in pcap ? [...pcap.records[0]!.data] : [];
  assert.deepEqual(data, [
    ...Array.from({ length: 20 }, (_, i) => i),
    ...Array.from({ length: 40 }, (_, i) => 110 + i),
  ]);
});
