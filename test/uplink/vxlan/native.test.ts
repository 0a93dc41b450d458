/**
 * The VXLAN uplink's batched socket (native/udp.c through native-udp.ts): recvmmsg and
 * sendmmsg against Node's own dgram sockets on loopback, a burst past the socket's buffer
 * (EAGAIN, then the writable callback), and hostile batches fed to `receiveBatch`.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { test } from "node:test";
import fc from "fast-check";
import { NicPort } from "../../../src/uplink/nic-port.js";
import { VxlanAdapter } from "../../../src/uplink/vxlan/adapter.js";
import { intToIpv4, ipv4ToInt, nativeUdp, nativeUdpWhy } from "../../../src/uplink/vxlan/native-udp.js";
import { VxlanSwitchPort } from "../../../src/uplink/vxlan/switch-port.js";
import { VxlanUplink } from "../../../src/uplink/vxlan/uplink.js";
import { ValePort } from "../../../src/vale/port.js";
import { ValeSwitch } from "../../../src/vale/switch.js";
import { privateMem } from "../../../src/wire/mem.js";
import { freePort, put, take, until } from "./rings.js";

const MAC_A = [2, 0, 0, 0, 0, 0xa];
const MAC_B = [2, 0, 0, 0, 0, 0xb];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

test("ipv4ToInt and intToIpv4 are inverse over every address", () => {
  fc.assert(
    fc.property(fc.ipV4(), (a) => {
      assert.equal(intToIpv4(ipv4ToInt(a)), a);
    }),
  );
});

test("native udp: a batch each way between two sockets; a datagram longer than a slot is reported cut", async (t) => {
  const udp = nativeUdp;
  if (udp === null) return t.skip(`no native udp: ${nativeUdpWhy}`);
  const a = udp.open("127.0.0.1", 0, 1 << 20);
  const b = udp.open("127.0.0.1", 0, 1 << 20);
  try {
    const pb = udp.localPort(b);
    const mem = new Uint8Array(6144);
    const sizes = [50, 51, 3000];
    for (const [i, n] of sizes.entries()) mem.fill(i + 1, i * 2048, i * 2048 + Math.min(n, 2048));
    const off = Int32Array.of(0, 2048, 4096);
    const size = Int32Array.from(sizes);
    const ip = Int32Array.of(0x7f000001, 0x7f000001, 0x7f000001);
    const port = Int32Array.of(pb, pb, pb);
    assert.throws(
      () => udp.send(a, mem, off, size, ip, port, 0, 3),
      /outside the memory/,
      "a datagram past the memory",
    );
    size[2] = 3000 - 2048 + 1024;
    assert.equal(udp.send(a, mem, off, size, ip, port, 0, 3), 3);
    const rx = new Uint8Array(4 * 1024);
    const meta = new Int32Array(12);
    await until("three datagrams", () => {
      const n = udp.recv(b, rx, 0, 1024, 4, meta);
      return n === 3 || (n > 0 && assert.fail(`${n} datagrams, not 3 at once`));
    });
    assert.deepEqual([meta[0], meta[3], meta[6]], [50, 51, -1], "lengths; the third cut to its 1 KiB slot");
    assert.equal(meta[1], 0x7f000001);
    assert.equal(meta[2], udp.localPort(a));
    assert.equal(rx[0], 1);
    assert.equal(rx[1024 + 50], 2);
    assert.throws(() => udp.recv(b, rx, 0, 1024, 5, meta), /outside the memory/, "slots past the memory");
    assert.equal(udp.recv(b, rx, 0, 1024, 4, meta), 0, "nothing left: 0, not an error");
  } finally {
    udp.close(a);
    udp.close(b);
  }
});

test("batch socket: a full socket holds the queue and asks for room; partial sends and refused datagrams keep order and counts", () => {
  const sw = new ValeSwitch("valef");
  const g = new ValePort(sw, `${sw.name}:g`, 256).open();
  let mode: "full" | "open" | "partial" | "refuse" = "full";
  const sent: number[] = [];
  const asks: boolean[] = [];
  let pool: Uint8Array | null = null;
  const a = new VxlanAdapter({
    name: "vx",
    vni: 42,
    mtu: 1450,
    remotes: [{ address: "192.0.2.2", port: 4789 }],
    learntPort: 4789,
    slots: 16,
    batch: {
      send: (u8, off, _size, ip, port, from, n) => {
        pool = u8;
        assert.equal(ip[from], ipv4ToInt("192.0.2.2"));
        assert.equal(port[from], 4789);
        if (mode === "full") return 0;
        const tag = (i: number): number => u8[off[i]! + 8 + 14]!;
        let k = mode === "partial" ? Math.min(n, 3) : n;
        if (mode === "refuse") {
          // As sendmmsg does: the datagrams before a refused one go, and the next call,
          // starting at the refused one, gets its error.
          if (tag(from) === 5) return -113; // EHOSTUNREACH
          for (let i = from; i < from + n; i++) if (tag(i) === 5) k = Math.min(k, i - from);
        }
        for (let i = from; i < from + k; i++) sent.push(tag(i));
        return k;
      },
      wantWritable: (on) => asks.push(on),
    },
  });
  const nic = new NicPort(sw, a, (dev) => new VxlanSwitchPort(sw, dev, a));
  try {
    // 32 pool cells (two per TX slot): 20 frames wait in the queue of a full socket.
    put(
      g,
      Array.from({ length: 20 }, (_, i) => ({ dst: BCAST, src: MAC_A, tag: i })),
    );
    assert.deepEqual(sent, []);
    assert.deepEqual(asks, [true], "asked once for room");
    assert.equal(a.cellsInFlight, 20);
    // 20 more: 12 fit in the pool, 8 are the switch's drops (as a full NIC ring's are).
    put(
      g,
      Array.from({ length: 20 }, (_, i) => ({ dst: BCAST, src: MAC_A, tag: 20 + i })),
    );
    assert.equal(a.cellsInFlight, 32);
    mode = "partial";
    a.onWritable();
    assert.deepEqual(
      sent,
      Array.from({ length: 32 }, (_, i) => i),
      "in order, three a call",
    );
    assert.deepEqual(asks, [true, false], "stopped asking once the queue was empty");
    assert.equal(a.counters.get("tx_packets"), 32);
    assert.equal(a.cellsInFlight, 0);
    assert.ok(pool !== null);
    mode = "refuse";
    sent.length = 0;
    put(
      g,
      Array.from({ length: 8 }, (_, i) => ({ dst: BCAST, src: MAC_A, tag: i })),
    );
    assert.deepEqual(sent, [0, 1, 2, 3, 4, 6, 7], "the refused datagram skipped, the rest sent");
    assert.equal(a.counters.get("tx_errors"), 1);
    assert.equal(a.counters.get("tx_packets"), 39);
    assert.equal(a.cellsInFlight, 0);
  } finally {
    nic.detach();
    g.close();
  }
});

test("native uplink: datagrams from a peer reach the guest, and its MAC is learnt against the peer's address", async (t) => {
  if (nativeUdp === null) return t.skip(`no native udp: ${nativeUdpWhy}`);
  const sw = new ValeSwitch(`valem${process.pid % 100}`);
  const g = new ValePort(sw, `${sw.name}:g`, 256).open();
  const peer = createSocket("udp4");
  await new Promise<void>((r) => peer.bind(0, "127.0.0.2", r));
  const port = await freePort();
  const u = await VxlanUplink.open(sw, { local: "127.0.0.1", port, vni: 42, remotes: [], mtu: 1450 });
  const replies: number[] = [];
  peer.on("message", (m) => replies.push(m[8 + 14]!));
  try {
    const dgram = (tag: number, len = 60): Buffer => {
      const b = Buffer.alloc(8 + len);
      b.set([0x08, 0, 0, 0, 0, 0, 42, 0, ...MAC_A, ...MAC_B, 0x08, 0, tag]);
      return b;
    };
    for (let i = 0; i < 100; i++) peer.send(dgram(i), port, "127.0.0.1");
    peer.send(dgram(200, 1465), port, "127.0.0.1");
    const got: number[] = [];
    await until("100 frames in the guest", () => {
      for (const f of take(g)) got.push(f.tag);
      return got.length >= 100 && u.adapter.counters.get("rx_length_errors") === 1;
    });
    assert.deepEqual(
      got,
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(u.adapter.counters.get("rx_packets"), 100);
    assert.equal(u.adapter.remotes[0]?.address, "127.0.0.2", "the sender learnt as a remote");
    // A reply to MAC_B goes to the learnt remote, on the uplink's own port there.
    put(g, [{ dst: MAC_B, src: MAC_A, tag: 7 }]);
    assert.equal(u.adapter.counters.get("tx_packets"), 1);
    assert.equal(u.adapter.remotes[0]?.port, port);
  } finally {
    await u.close();
    g.close();
    await new Promise<void>((r) => peer.close(() => r()));
  }
});

test("receiveBatch: hostile batches never throw, never reach past their slot, and each datagram is counted once", () => {
  const SLOT = 256;
  const N = 8;
  for (const direct of [true, false]) {
    const sw = new ValeSwitch(direct ? "valeh1" : "valeh2");
    const g = new ValePort(sw, `${sw.name}:g`, 64).open();
    const a = new VxlanAdapter({
      name: "vx",
      vni: 42,
      mtu: 100,
      remotes: [],
      learntPort: 4789,
      batch: { send: () => 0, wantWritable: () => {} },
      slots: 64,
    });
    const nic = new NicPort(sw, a, direct ? (dev) => new VxlanSwitchPort(sw, dev, a) : undefined);
    const mem = privateMem(N * SLOT);
    const buf = Buffer.from(mem.buffer);
    const meta = new Int32Array(3 * N);
    const counted = (): number =>
      ["rx_packets", "rx_errors", "rx_dropped", "rx_missed_errors"].reduce(
        (s, n) => s + a.counters.get(n as "rx_packets"),
        0,
      );
    const datagram = fc.record({
      bytes: fc.oneof(
        fc.uint8Array({ maxLength: SLOT }),
        fc
          .tuple(fc.integer({ min: 0, max: 255 }), fc.constantFrom(42, 43), fc.uint8Array({ maxLength: 140 }))
          .map(([flags, vni, rest]) => Uint8Array.from([flags, 0, 0, 0, 0, 0, vni, 0, ...rest])),
      ),
      // What the kernel would say, and what it never would: longer than the slot, cut (-1).
      len: fc.option(fc.integer({ min: -5, max: 4 * SLOT }), { nil: undefined }),
      ip: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    });
    fc.assert(
      fc.property(fc.array(datagram, { maxLength: N }), (ds) => {
        mem.u8.fill(0xee);
        ds.forEach((d, i) => {
          mem.u8.set(d.bytes, i * SLOT);
          meta[3 * i] = d.len ?? d.bytes.length;
          meta[3 * i + 1] = d.ip;
          meta[3 * i + 2] = 4789;
        });
        const before = counted();
        a.receiveBatch(mem, buf, meta, ds.length, SLOT);
        assert.equal(counted() - before, ds.length, "each datagram counted once");
        for (const f of take(g)) assert.ok(f.len <= 100 + 14, "no frame past the MTU");
      }),
      { numRuns: 200 },
    );
    assert.ok(a.counters.get("rx_packets") > 0, "some datagrams were good");
    nic.detach();
    g.close();
  }
});

test("native udp: a watched socket is closed with its thread (a terminated Domain-0 leaves no port bound)", async (t) => {
  const udp = nativeUdp;
  if (udp === null) return t.skip(`no native udp: ${nativeUdpWhy}`);
  const port = await freePort();
  const { Worker } = await import("node:worker_threads");
  const mod = new URL("../../../src/uplink/vxlan/native-udp.js", import.meta.url).href;
  const w = new Worker(
    `import("${mod}").then(({ nativeUdp: u }) => {
       const fd = u.open("127.0.0.1", ${port}, 0);
       u.want(u.watch(fd, () => {}), true, false);
       require("node:worker_threads").parentPort.postMessage("bound");
     });`,
    { eval: true },
  );
  await new Promise<void>((resolve, reject) => {
    w.once("message", () => resolve());
    w.once("error", reject);
  });
  assert.throws(() => udp.close(udp.open("127.0.0.1", port, 0)), /in use/i, "the worker holds the port");
  await w.terminate();
  const fd = udp.open("127.0.0.1", port, 0);
  udp.close(fd);
});
