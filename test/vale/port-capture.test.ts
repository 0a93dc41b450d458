/**
 * PortCapture on its own: a port's frames both ways with their direction, nothing of other
 * ports' unicast; chunks only while the reader has credit, drops counted without it; the
 * tap off the switch once stopped, by count, or when the port goes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
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
import { parseFilter } from "../../src/vale/capture-filter.js";
import { ValePort } from "../../src/vale/port.js";
import { PortCapture, type PortCaptureStats } from "../../src/vale/port-capture.js";
import { ValeSwitch } from "../../src/vale/switch.js";
import { readPcap } from "../../src/wire/pcap.js";
import { EPB_DIR_INBOUND, EPB_DIR_OUTBOUND, readPcapng } from "../../src/wire/pcapng.js";

/** One 60-byte frame from port `p` (source MAC 02:..:src) to `dst` (a MAC's last byte, 0xff: broadcast). */
function send(p: NetmapPort, src: number, dst: number, tag: number): void {
  const m = p.mem;
  const r = p.tx[0].r;
  const h = ringHead(m, r);
  const s = ringSlot(r, h);
  const off = p.region.bufOff(slotBufIdx(m, s));
  m.u8.fill(0, off, off + 60);
  const d = dst === 0xff ? [255, 255, 255, 255, 255, 255] : [2, 0, 0, 0, 0, dst];
  m.u8.set([...d, 2, 0, 0, 0, 0, src, 0x08, 0x06, tag], off);
  slotSetLen(m, s, 60);
  slotSetFlags(m, s, 0);
  const n = nmRingNext(p.tx[0].numSlots, h);
  ringSetHead(m, r, n);
  ringSetCur(m, r, n);
  p.txsync();
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Sink {
  chunks: Uint8Array[];
  frames: number[];
  ends: [PortCaptureStats, string][];
}

function sink(): Sink & {
  emit: (c: Uint8Array, n: number) => void;
  end: (s: PortCaptureStats, r: string) => void;
} {
  const s: Sink = { chunks: [], frames: [], ends: [] };
  return {
    ...s,
    emit: (c, n) => {
      s.chunks.push(c);
      s.frames.push(n);
    },
    end: (st, r) => s.ends.push([st, r]),
  };
}

function joined(chunks: Uint8Array[]): Uint8Array {
  return Uint8Array.from(chunks.flatMap((c) => [...c]));
}

test("one port: its frames in and out with their direction, not other ports' unicast", async () => {
  const sw = new ValeSwitch("vale0");
  const a = new ValePort(sw, "a", 64).open();
  const b = new ValePort(sw, "b", 64).open();
  const c = new ValePort(sw, "c", 64).open();
  send(c, 3, 0xff, 0); // the switch learns c before the capture
  const k = sink();
  const cap = new PortCapture(sw, { format: "pcapng", port: sw.portIndex("a"), ...k }).start();
  send(a, 1, 0xff, 1); // from a: inbound
  send(b, 2, 0xff, 2); // flooded to a: outbound
  send(b, 2, 3, 3); // b to c: not a's
  send(c, 3, 1, 4); // c to a (learnt): outbound
  await turn();
  cap.stop("stopped");
  assert.equal(sw.tap, null);
  assert.deepEqual(k.ends, [[{ captured: 3, dropped: 0 }, "stopped"]]);
  const ng = readPcapng(joined(k.chunks));
  assert.ok(!("error" in ng), JSON.stringify(ng));
  if ("error" in ng) return;
  assert.deepEqual(
    ng.interfaces.map((i) => i.name),
    ["a"],
  );
  assert.deepEqual(
    ng.packets.map((p) => [p.data[14], p.flags]),
    [
      [1, EPB_DIR_INBOUND],
      [2, EPB_DIR_OUTBOUND],
      [4, EPB_DIR_OUTBOUND],
    ],
  );
});

test("without credit the staging buffer fills and drops are counted; an ack lets the rest go", async () => {
  const sw = new ValeSwitch("vale0");
  const a = new ValePort(sw, "a", 256).open();
  new ValePort(sw, "b", 256).open();
  const k = sink();
  // The pcap header (24) and two records of 16 + 60 fit in 200 bytes; a third does not.
  const cap = new PortCapture(sw, { format: "pcap", port: -1, bufferBytes: 200, credits: 1, ...k }).start();
  await turn(); // the header goes out alone and uses the only credit
  assert.equal(k.chunks.length, 1);
  for (let i = 0; i < 5; i++) send(a, 1, 0xff, i);
  await turn();
  assert.equal(k.chunks.length, 1, "no chunk without credit");
  assert.deepEqual(cap.stats, { captured: 2, dropped: 3 });
  cap.ack();
  await turn();
  assert.equal(k.chunks.length, 2);
  assert.deepEqual(k.frames, [0, 2]);
  cap.ack();
  send(a, 1, 0xff, 9);
  await turn();
  cap.stop("stopped");
  const pcap = readPcap(joined(k.chunks));
  assert.deepEqual("records" in pcap ? pcap.records.map((r) => r.data[14]) : pcap, [0, 1, 9]);
  assert.deepEqual(k.ends, [[{ captured: 3, dropped: 3 }, "stopped"]]);
});

test("-c and a filter: it ends by itself after COUNT matching frames, and when its port goes", async () => {
  const sw = new ValeSwitch("vale0");
  const a = new ValePort(sw, "a", 64).open();
  const bPort = new ValePort(sw, "b", 64);
  const b = bPort.open();
  const k = sink();
  const arpFrom2 = parseFilter("arp and ether src 02:00:00:00:00:02");
  assert.ok(typeof arpFrom2 !== "string");
  new PortCapture(sw, { format: "pcap", port: -1, count: 2, filter: arpFrom2, ...k }).start();
  for (let i = 0; i < 4; i++) send(a, 1, 0xff, i);
  for (let i = 0; i < 4; i++) send(b, 2, 0xff, 10 + i);
  await turn();
  assert.equal(sw.tap, null);
  assert.deepEqual(k.ends, [[{ captured: 2, dropped: 0 }, "2 packets"]]);
  const pcap = readPcap(joined(k.chunks));
  assert.deepEqual("records" in pcap ? pcap.records.map((r) => r.data[14]) : pcap, [10, 11]);

  const k2 = sink();
  new PortCapture(sw, { format: "pcap", port: sw.portIndex("b"), ...k2 }).start();
  bPort.detach();
  await turn();
  assert.deepEqual(k2.ends, [[{ captured: 0, dropped: 0 }, "b left vale0"]]);
  assert.equal(sw.tap, null);
});
