import assert from "node:assert/strict";
import { test } from "node:test";
import { Worker } from "node:worker_threads";
import { RateLog } from "../../src/base/ratelog.js";
import { ringSlot, slotBufIdx, slotSetLen } from "../../src/netmap/layout.js";
import { nmRingAdvance, nmRingSpace } from "../../src/netmap/ring.js";
import { ValePort } from "../../src/vale/port.js";
import { attachRemotePort, RemoteIf } from "../../src/vale/remote.js";
import { ValeSwitch } from "../../src/vale/switch.js";

function user(desc: unknown, role: "tx" | "rx", count: number): Promise<Record<string, number>> {
  const w = new Worker(new URL("./programs/remote-user.js", import.meta.url), {
    workerData: { desc, role, count },
  });
  return new Promise((resolve, reject) => {
    w.once("message", (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once("error", reject);
  });
}

test("VALE ports owned by two other threads: frames cross the switch in order; drops only where counted", async () => {
  const sw = new ValeSwitch("vale0");
  const a = attachRemotePort(sw, "vale0:a", 256);
  const b = attachRemotePort(sw, "vale0:b", 256);
  try {
    const N = 200_000;
    const rx = user(b.desc, "rx", N);
    const tx = await user(a.desc, "tx", N);
    const got = await rx;
    assert.equal(tx.sent, N);
    assert.equal(got.outOfOrder, 0, "nothing out of order");
    const forwarded = a.bwrap.counters.get("txPackets");
    const dropped = b.bwrap.counters.get("rxDrops");
    assert.equal(forwarded, N, "the switch forwarded every frame the sender's thread sent");
    assert.equal(got.got + dropped, N, "every frame arrived or was counted as dropped");
    assert.ok(got.got > 0);
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("an error while serving a remote port ends that open only: counted, logged once, the switch unharmed", async () => {
  const sw = new ValeSwitch("vale0");
  const lines: string[] = [];
  const log = new RateLog({ sink: (l) => lines.push(l) });
  const vif = new RemoteIf("vi0", 64, { log });
  const bw = vif.attach(sw);
  const other = new ValePort(sw, "vale0:b", 64);
  const ob = other.open();
  vif.open();
  // Whatever the user did, serving its open throws (a stand-in for any bug it could reach).
  bw.pump = () => {
    throw new RangeError("offset is out of bounds");
  };
  const deadline = performance.now() + 2000;
  while (vif.faults === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(vif.faults, 1);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /vi0: serving the open failed \(offset is out of bounds\); port disabled until reopened/,
  );
  assert.equal(bw.port, null, "its rings left the switch");
  // The switch still forwards for everyone else; the disabled port's share is a counted drop.
  const a = new ValePort(sw, "vale0:a", 64).open();
  const m = a.mem;
  const s = ringSlot(a.tx[0].r, 0);
  m.u8.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0], a.region.bufOff(slotBufIdx(m, s)));
  slotSetLen(m, s, 60);
  nmRingAdvance(m, a.tx[0].r, 1);
  a.txsync();
  ob.rxsync();
  assert.equal(nmRingSpace(ob.mem, ob.rx[0].r), 1, "b got the frame");
  assert.equal(bw.counters.get("rxDrops"), 1);
  await vif.close();
  assert.equal(vif.isOpen, false, "a close still ends the open; the next one starts afresh");
});

test("a remote port whose rings the switch unbound after a fault stops being served", async () => {
  const sw = new ValeSwitch("vale0");
  const lines: string[] = [];
  const vif = new RemoteIf("vi0", 64, { log: new RateLog({ sink: (l) => lines.push(l) }) });
  const bw = vif.attach(sw);
  vif.open();
  try {
    bw.fault("txsync: a stand-in for a device error");
    const deadline = performance.now() + 2000;
    while (vif.faults === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(bw.faults, 1);
    assert.equal(vif.faults, 1, "the open was ended, not left spinning");
    assert.equal(lines.length, 2);
  } finally {
    await vif.close();
  }
});
