import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { test } from "node:test";
import fc from "fast-check";
import { parseRemote } from "../../src/uplink/vxlan/config.js";
import {
  classifyDatagram,
  DECAP_FLAGS,
  DECAP_OK,
  DECAP_OVERSIZE,
  DECAP_RUNT,
  DECAP_SHORT,
  DECAP_VNI,
} from "../../src/uplink/vxlan/decap.js";
import { VxlanUplink } from "../../src/uplink/vxlan/uplink.js";
import { ValePort } from "../../src/vale/port.js";
import { ValeSwitch } from "../../src/vale/switch.js";
import { freePort, put, take, until } from "./vxlan/rings.js";

const MAC_A = [2, 0, 0, 0, 0, 0xa];
const MAC_B = [2, 0, 0, 0, 0, 0xb];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** Two switches, each with one VALE port and a VXLAN uplink toward the other, on loopback. */
async function pair(mtu = 1450) {
  const [pa, pb] = [await freePort(), await freePort()];
  const swA = new ValeSwitch("vale0");
  const swB = new ValeSwitch("vale1");
  const a = new ValePort(swA, "vale0:a", 64).open();
  const b = new ValePort(swB, "vale1:b", 64).open();
  const ua = await VxlanUplink.open(swA, {
    local: "127.0.0.1",
    port: pa,
    vni: 42,
    remotes: [`127.0.0.1:${pb}`],
    mtu,
  });
  const ub = await VxlanUplink.open(swB, {
    local: "127.0.0.1",
    port: pb,
    vni: 42,
    remotes: [`127.0.0.1:${pa}`],
    mtu,
  });
  return { a, b, ua, ub, pa, pb, close: () => Promise.all([ua.close(), ub.close()]) };
}

test("classifyDatagram: short, flags, VNI, runt, oversize and good datagrams", () => {
  const good = new Uint8Array(8 + 42);
  good.set([0x08, 0, 0, 0, 0, 0, 42, 0]);
  assert.equal(classifyDatagram(good, 42, 1464), DECAP_OK);
  assert.equal(classifyDatagram(good.subarray(0, 7), 42, 1464), DECAP_SHORT);
  assert.equal(classifyDatagram(good.subarray(0, 8 + 13), 42, 1464), DECAP_RUNT);
  assert.equal(classifyDatagram(good, 43, 1464), DECAP_VNI);
  assert.equal(classifyDatagram(good, 42, 41), DECAP_OVERSIZE);
  const noI = good.slice();
  noI[0] = 0xf7;
  assert.equal(classifyDatagram(noI, 42, 1464), DECAP_FLAGS);
});

test("classifyDatagram accepts exactly the well-formed datagrams, and never throws on hostile bytes", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.nat({ max: 0xff_ffff }),
      fc.integer({ min: 14, max: 180 }),
      (b, vni, max) => {
        const r = classifyDatagram(b, vni, max);
        const ok =
          b.length >= 22 &&
          (b[0] & 8) !== 0 &&
          ((b[4] << 16) | (b[5] << 8) | b[6]) === vni &&
          b.length - 8 <= max;
        assert.equal(r === DECAP_OK, ok);
      },
    ),
    { numRuns: 2000 },
  );
});

test("parseRemote: address, address:port, and what is wrong otherwise", () => {
  assert.deepEqual(parseRemote("192.0.2.2"), { address: "192.0.2.2", port: 4789 });
  assert.deepEqual(parseRemote("192.0.2.2:4790"), { address: "192.0.2.2", port: 4790 });
  assert.equal(typeof parseRemote("192.0.2"), "string");
  assert.equal(typeof parseRemote("192.0.2.2:0"), "string");
  assert.equal(typeof parseRemote("192.0.2.2:x"), "string");
});

test("two switches over VXLAN: broadcast floods to the remote, replies go by the learnt MAC", async () => {
  const t = await pair();
  try {
    put(t.a, [{ dst: BCAST, src: MAC_A, tag: 1 }]);
    await until("the broadcast on B", () => t.ub.adapter.counters.get("rx_packets") === 1);
    await until("B's port to get it", () => {
      const got = take(t.b);
      if (got.length === 0) return false;
      assert.deepEqual(got, [{ tag: 1, len: 60 }]);
      return true;
    });
    assert.equal(t.ub.adapter.counters.get("multicast"), 1);
    assert.deepEqual(t.ub.status().learnt, [{ mac: "02:00:00:00:00:0a", remote: "127.0.0.1" }]);
    put(t.b, [
      { dst: MAC_A, src: MAC_B, tag: 2 },
      { dst: MAC_A, src: MAC_B, tag: 3 },
    ]);
    const got: number[] = [];
    await until("A's port to get both", () => {
      for (const f of take(t.a)) got.push(f.tag);
      return got.length >= 2;
    });
    assert.deepEqual(got, [2, 3]);
    assert.equal(t.ua.adapter.counters.get("rx_packets"), 2);
    assert.equal(t.ub.adapter.counters.get("tx_packets"), 2);
    assert.equal(t.ua.status().counters.tx_packets, 1);
  } finally {
    await t.close();
  }
});

test("eight rounds of 40 frames cross whole and in order, and every send completes", async () => {
  const t = await pair();
  try {
    put(t.b, [{ dst: BCAST, src: MAC_B, tag: 0 }]);
    await until("A learns B", () => take(t.a).length === 1);
    const got: number[] = [];
    for (let round = 0; round < 8; round++) {
      put(
        t.a,
        Array.from({ length: 40 }, (_, i) => ({ dst: MAC_B, src: MAC_A, tag: (round * 40 + i) & 0xff })),
      );
      await until("the round to arrive", () => {
        for (const f of take(t.b)) got.push(f.tag);
        return got.length >= (round + 1) * 40;
      });
    }
    assert.deepEqual(
      got,
      Array.from({ length: 320 }, (_, i) => i & 0xff),
    );
    await until("every send completed", () => t.ua.adapter.cellsInFlight === 0);
  } finally {
    await t.close();
  }
});

test("oversize frames are dropped and counted on both sides; malformed datagrams never throw", async () => {
  const t = await pair(100);
  const raw: Socket = createSocket("udp4");
  try {
    put(t.a, [{ dst: BCAST, src: MAC_A, tag: 9, len: 115 }]);
    await until("the oversize TX drop", () => t.ua.adapter.counters.get("tx_dropped") === 1);
    assert.equal(t.ua.adapter.counters.get("tx_packets"), 0);
    put(t.a, [{ dst: BCAST, src: MAC_A, tag: 9, len: 114 }]);
    await until("the largest frame to pass", () => t.ub.adapter.counters.get("rx_packets") === 1);
    const send = (b: Uint8Array) => new Promise<void>((r) => raw.send(b, t.pb, "127.0.0.1", () => r()));
    const hdr = (flags: number, vni: number) => [flags, 0, 0, 0, vni >> 16, (vni >> 8) & 0xff, vni & 0xff, 0];
    const frame = [...BCAST, ...MAC_B, 8, 0];
    await send(new Uint8Array([8, 0, 0]));
    await send(new Uint8Array([...hdr(0, 42), ...frame]));
    await send(new Uint8Array([...hdr(8, 43), ...frame]));
    await send(new Uint8Array([...hdr(8, 42), ...frame.slice(0, 13)]));
    await send(new Uint8Array([...hdr(8, 42), ...frame, ...new Uint8Array(101)]));
    await send(new Uint8Array([...hdr(8, 42), ...frame]));
    const c = t.ub.adapter.counters;
    await until("all six datagrams counted", () => c.get("rx_packets") === 2);
    assert.deepEqual(
      ["rx_length_errors", "rx_frame_errors", "rx_dropped", "rx_errors"].map((n) => c.get(n as "rx_errors")),
      [3, 1, 1, 4],
    );
    await until("the good frames on B's port", () => take(t.b).length > 0);
  } finally {
    raw.close();
    await t.close();
  }
});

test("learnt MACs age out on the timer", async () => {
  const [pa, pb] = [await freePort(), await freePort()];
  const sw = new ValeSwitch("vale2");
  const a = new ValePort(sw, "vale2:a", 64).open();
  const u = await VxlanUplink.open(
    sw,
    { local: "127.0.0.1", port: pa, vni: 7, remotes: [`127.0.0.1:${pb}`], mtu: 1450 },
    0,
    {
      ageingMs: 200,
    },
  );
  const peer = createSocket("udp4");
  try {
    await new Promise<void>((r) => peer.bind(pb, "127.0.0.1", r));
    const hdr = [8, 0, 0, 0, 0, 0, 7, 0];
    await new Promise<void>((r) =>
      peer.send(new Uint8Array([...hdr, ...MAC_A, ...MAC_B, 8, 0]), pa, "127.0.0.1", () => r()),
    );
    await until("B learnt", () => u.status().learnt.length === 1);
    await until("the frame on A", () => take(a).length === 1);
    await until("B aged out", () => u.status().learnt.length === 0, 5000);
  } finally {
    peer.close();
    await u.close();
  }
});

test("hostile datagrams: the adapter never throws, and each one is counted exactly once", async () => {
  const { VxlanAdapter } = await import("../../src/uplink/vxlan/adapter.js");
  const { attachDevice } = await import("../../src/vale/bwrap.js");
  const sw = new ValeSwitch("vale3");
  const g = new ValePort(sw, "vale3:g", 64).open();
  const a = new VxlanAdapter({
    name: "vx",
    vni: 42,
    mtu: 100,
    remotes: [],
    learntPort: 4789,
    sender: { send: () => {} },
    slots: 64,
  });
  const bw = attachDevice(sw, a.device()).nic;
  const counted = (): number =>
    ["rx_packets", "rx_errors", "rx_dropped", "rx_missed_errors"].reduce(
      (s, n) => s + a.counters.get(n as "rx_packets"),
      0,
    );
  const hdr = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.constantFrom(42, 43, 0));
  const datagram = fc.oneof(
    fc.uint8Array({ maxLength: 140 }),
    fc
      .tuple(hdr, fc.uint8Array({ maxLength: 130 }))
      .map(([[flags, vni], rest]) => Uint8Array.from([flags, 0, 0, 0, 0, 0, vni, 0, ...rest])),
  );
  fc.assert(
    fc.property(fc.array(datagram, { maxLength: 100 }), fc.boolean(), (ds, pump) => {
      const before = counted();
      for (const d of ds) a.receive(Buffer.from(d), `192.0.2.${d.length % 250}`);
      if (pump) {
        bw.pump();
        take(g);
      }
      assert.equal(counted() - before, ds.length);
      assert.equal(
        a.counters.get("rx_errors"),
        a.counters.get("rx_length_errors") + a.counters.get("rx_frame_errors"),
      );
    }),
    { numRuns: 300 },
  );
  const good = Buffer.from([8, 0, 0, 0, 0, 0, 42, 0, ...BCAST, ...MAC_B, 8, 0]);
  const missed = a.counters.get("rx_missed_errors");
  for (let i = 0; i < 70; i++) a.receive(good, "192.0.2.1");
  assert.ok(a.counters.get("rx_missed_errors") > missed, "a ring of 64 left unpumped fills, and counts");
  bw.pump();
  take(g);
  const passed = a.counters.get("rx_packets");
  a.receive(good, "192.0.2.1");
  assert.equal(a.counters.get("rx_packets"), passed + 1, "pumped, the ring takes frames again");
});

test("an uplink that cannot bind says which address and why", async () => {
  const port = await freePort();
  const sw = new ValeSwitch("vale4");
  const first = await VxlanUplink.open(sw, { local: "127.0.0.1", port, vni: 1, remotes: [], mtu: 1450 });
  try {
    await assert.rejects(
      VxlanUplink.open(new ValeSwitch("vale5"), { local: "127.0.0.1", port, vni: 1, remotes: [], mtu: 1450 }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "EADDRINUSE");
        assert.equal(e.message, `vxlan: cannot bind 127.0.0.1:${port}: EADDRINUSE`);
        return true;
      },
    );
    await assert.rejects(
      VxlanUplink.open(new ValeSwitch("vale6"), {
        local: "192.0.2.77",
        port,
        vni: 1,
        remotes: [],
        mtu: 1450,
      }),
      /vxlan: cannot bind 192\.0\.2\.77:\d+: EADDRNOTAVAIL/,
    );
  } finally {
    await first.close();
  }
});

test("vxlan uplink (dgram): a static remote gets its datagrams from a connected socket; learnt remotes from the bound port", async () => {
  const sw = new ValeSwitch(`vale${process.pid % 100}`);
  const g = new ValePort(sw, `${sw.name}:g`, 64).open();
  const peer = createSocket("udp4");
  const other = createSocket("udp4");
  await new Promise<void>((r) => peer.bind(0, "127.0.0.1", r));
  await new Promise<void>((r) => other.bind(0, "127.0.0.2", r));
  const port = await freePort();
  const u = await VxlanUplink.open(
    sw,
    {
      local: "127.0.0.1",
      port,
      vni: 42,
      remotes: [`127.0.0.1:${peer.address().port}`],
      mtu: 1450,
    },
    0,
    { socket: "dgram" },
  );
  const seen: { from: number; tag: number }[] = [];
  peer.on("message", (m, r) => seen.push({ from: r.port, tag: m[8 + 14] }));
  const toOther: { from: number; tag: number }[] = [];
  other.on("message", (m, r) => toOther.push({ from: r.port, tag: m[8 + 14] }));
  try {
    put(g, [{ dst: BCAST, src: MAC_A, tag: 1 }]);
    await until("the flood at the static remote", () => seen.length === 1);
    assert.notEqual(seen[0]!.from, port, "sent from the connected socket's own port");
    // A frame from a peer that is no static remote: its MAC is learnt against its address,
    // and a reply to that MAC leaves from the bound port, to the uplink's port there.
    const hello = Buffer.from([
      0x08,
      0,
      0,
      0,
      0,
      0,
      42,
      0,
      ...MAC_A,
      ...MAC_B,
      0x08,
      0,
      9,
      ...new Array(45).fill(0),
    ]);
    other.send(hello, port, "127.0.0.1");
    await until("the learnt peer's frame in the guest", () => take(g).length === 1);
    assert.equal(u.adapter.remotes.length, 2, "the other peer learnt as a remote");
    assert.equal(u.adapter.remotes[1]!.address, "127.0.0.2");
    assert.equal(u.adapter.remotes[1]!.port, port, "sent to, on the uplink's own port");
  } finally {
    await u.close();
    g.close();
    await Promise.all([peer, other].map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
});
