/**
 * A hotplug module for the VifFrames test: takes the vif as frames, refuses a frame too
 * long for a slot, ARPs for the guest with a made-up MAC until it answers, then throws
 * from its listener; reports each step to the test.
 */

import type { NetbackVif } from "../../../src/netback/vif.js";
import { VifFrames } from "../../../src/netback/vif-frames.js";
import type { HotplugContext } from "../../../src/toolstack/hotplug.js";

const FAKE_MAC = [0x02, 0, 0, 0, 0, 0x99];
const GUEST_IP = 0x0a000001; // 10.0.0.1
const OUR_IP = 0x0a0000fe;

export default function hotplug(vif: NetbackVif, ctx: HotplugContext): void {
  const frames = VifFrames.open(vif);
  const report = (r: Record<string, unknown>) => ctx.dom.report({ t: "frames", name: frames.name, ...r });
  // Reported with the reply: the test listens only once the host has booted.
  const tooLong = { taken: frames.write(new Uint8Array(70_000)), refused: frames.refused };
  const req = new Uint8Array(42);
  const dv = new DataView(req.buffer);
  req.fill(0xff, 0, 6);
  req.set(FAKE_MAC, 6);
  dv.setUint16(12, 0x0806);
  dv.setUint16(14, 1);
  dv.setUint16(16, 0x0800);
  req[18] = 6;
  req[19] = 4;
  dv.setUint16(20, 1);
  req.set(FAKE_MAC, 22);
  dv.setUint32(28, OUR_IP);
  dv.setUint32(38, GUEST_IP);
  let replied = false;
  frames.listen((frame, off, len) => {
    const v = new DataView(frame.buffer, frame.byteOffset + off, len);
    const toUs = len >= 42 && frame[off] === 0x02 && frame[off + 5] === 0x99;
    if (toUs && v.getUint16(12) === 0x0806 && v.getUint16(20) === 2 && v.getUint32(28) === GUEST_IP) {
      replied = true;
      report({ replied: true, received: frames.received, written: frames.written, tooLong });
      throw new Error("listener bug");
    }
  });
  const timer = setInterval(() => {
    if (!replied) frames.write(req);
    else if (frames.error !== undefined) {
      clearInterval(timer);
      report({ error: frames.error, writeAfterClose: frames.write(req) });
    }
  }, 20);
  ctx.dom.onShutdown(() => clearInterval(timer));
}
