import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { sampleRing, sampleVifRings } from "../../src/web/rings.js";
import { GTF_permit_access } from "../../src/wire/xen/grant.js";

const PAGES = 4;

function guest(): { memory: SharedArrayBuffer; grantTable: SharedArrayBuffer } {
  return { memory: new SharedArrayBuffer(PAGES * 4096), grantTable: new SharedArrayBuffer(4096) };
}

function grant(gt: SharedArrayBuffer, ref: number, frame: number, flags = GTF_permit_access): void {
  const v = new DataView(gt, ref * 8, 8);
  v.setUint16(0, flags, true);
  v.setUint16(2, 0, true);
  v.setUint32(4, frame, true);
}

test("a ring's shared indices are read from the granted page", () => {
  const g = guest();
  grant(g.grantTable, 9, 2);
  const hdr = new DataView(g.memory, 2 * 4096, 16);
  hdr.setUint32(0, 0xffff_fffe, true); // req_prod, about to wrap
  hdr.setUint32(4, 1, true);
  hdr.setUint32(8, 0xffff_fff0, true); // rsp_prod
  hdr.setUint32(12, 2, true);
  const r = sampleRing(g.memory, g.grantTable, "9", 1, 12);
  assert.deepEqual(r, {
    ref: 9,
    size: 256,
    reqProd: 0xffff_fffe,
    reqEvent: 1,
    rspProd: 0xffff_fff0,
    rspEvent: 2,
    inFlight: 14,
  });
  const tree = new Map([
    ["/local/domain/1/device/vif/0/tx-ring-ref", "9"],
    ["/local/domain/1/device/vif/0/rx-ring-ref", "10"],
  ]);
  const q = sampleVifRings({ domid: 1, devid: 0, queues: 1, ringPageOrder: 0 }, (p) => tree.get(p), g);
  assert.equal(q.length, 1);
  assert.equal(q[0]!.tx?.inFlight, 14);
  assert.equal(q[0]!.rx, null); // ref 10 is not granted
  assert.deepEqual(
    sampleVifRings({ domid: 1, devid: 0, queues: 1, ringPageOrder: 0 }, (p) => tree.get(p), undefined),
    [{ queue: 0, tx: null, rx: null }],
  );
});

test("refs, grant entries and frames the guest wrote are checked: junk gives null, never a throw", () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 12 }),
      fc.nat(600),
      fc.nat(0xffff),
      fc.nat(0xffff_ffff),
      (ref, at, flags, frame) => {
        const g = guest();
        grant(g.grantTable, Math.min(at, 511), frame, flags);
        const r = sampleRing(g.memory, g.grantTable, ref, 1, 8);
        if (r !== null) {
          assert.ok(r.ref < 512);
          assert.equal(flags & 3, GTF_permit_access);
          assert.ok(frame < PAGES);
        }
      },
    ),
  );
});
