import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { isMartian } from "../../src/stack/arp.js";
import type { NetStack } from "../../src/stack/iface.js";
import { SEND_ENOBUFS, SEND_OK } from "../../src/stack/send-status.js";
import { ARPOP_REPLY, ARPOP_REQUEST, emitArp } from "../../src/wire/net/arp.js";
import { ETH_HLEN, ETH_P_ARP, emitEthernet } from "../../src/wire/net/ethernet.js";
import { arpFrame, arpRequestFrom, IP_C, MAC_C, toHex } from "./frames.js";
import { IP_A, IP_B, MAC_A, MAC_B, pair } from "./harness.js";

/** The neighbour state `s` holds for `ip`, or "none". */
function stateOf(s: NetStack, ip: number): string {
  return s.arpEntries().find((e) => e.ip === ip)?.state ?? "none";
}

function isArpRequest(b: Uint8Array): boolean {
  return b[12] === 0x08 && b[13] === 0x06 && b[21] === ARPOP_REQUEST;
}

function isUdp(b: Uint8Array): boolean {
  return b[12] === 0x08 && b[13] === 0x00 && b[23] === 17;
}

const IP_NOBODY = 0x0a00_0063; // 10.0.0.99

/** Ethernet + ARP built by the wire module's emitters, independent of the stack. */
function expectedArp(
  dst: number,
  src: number,
  oper: number,
  sha: number,
  spa: number,
  tha: number,
  tpa: number,
) {
  const b = new Uint8Array(ETH_HLEN + 28);
  emitEthernet({ dst, src, ethertype: ETH_P_ARP }, b);
  emitArp({ oper, sha, spa, tha, tpa }, b, ETH_HLEN);
  return toHex(b);
}

test("up() sends one gratuitous ARP request for our own address, byte for byte", () => {
  const p = pair();
  assert.equal(p.devA.sent.length, 1);
  assert.equal(
    toHex(p.devA.sent[0].bytes),
    expectedArp(0xffff_ffff_ffff, MAC_A, ARPOP_REQUEST, MAC_A, IP_A, 0, IP_A),
  );
  assert.equal(p.devA.sent[0].flags, 0);
  // The peer learns nothing from it: it holds no entry for A and was not asked.
  assert.equal(p.b.arpLookup(IP_A), undefined);
  assert.equal(p.b.counters.get("arpRequestsReceived"), 1);
});

test("the first ping resolves the peer by ARP and both caches learn", async () => {
  const p = pair();
  const r = p.a.ping(IP_B);
  p.timers.advance(0);
  assert.equal((await r).ok, true);
  assert.equal(p.a.arpLookup(IP_B), MAC_B);
  assert.equal(p.b.arpLookup(IP_A), MAC_A);
  assert.equal(p.a.counters.get("arpRequestsSent"), 2); // gratuitous + who-has
  assert.equal(p.b.counters.get("arpRepliesSent"), 1);
  // The request B answered, and the reply, byte for byte.
  assert.equal(
    toHex(p.devA.sent[1].bytes),
    expectedArp(0xffff_ffff_ffff, MAC_A, ARPOP_REQUEST, MAC_A, IP_A, 0, IP_B),
  );
  assert.equal(toHex(p.devB.sent[1].bytes), expectedArp(MAC_A, MAC_B, ARPOP_REPLY, MAC_B, IP_B, MAC_A, IP_A));
});

test("a request for our address from a stranger is answered and the stranger learnt", () => {
  const p = pair();
  p.b.receive(arpRequestFrom(MAC_C, IP_C, IP_B), 0, 42, 0);
  assert.equal(
    toHex(p.devB.sent.at(-1)!.bytes),
    expectedArp(MAC_C, MAC_B, ARPOP_REPLY, MAC_B, IP_B, MAC_C, IP_C),
  );
  assert.equal(p.b.arpLookup(IP_C), MAC_C);
});

test("a request for another host teaches nothing and answers nothing", () => {
  const p = pair();
  const before = p.devB.sent.length;
  p.b.receive(arpRequestFrom(MAC_C, IP_C, IP_NOBODY), 0, 42, 0);
  assert.equal(p.devB.sent.length, before);
  assert.equal(p.b.arpLookup(IP_C), undefined);
});

test("a gratuitous ARP updates an entry we hold and creates none", () => {
  const p = pair();
  p.b.receive(arpRequestFrom(MAC_C, IP_C, IP_B), 0, 42, 0);
  const moved = 0x0200_0000_00cc;
  p.b.receive(arpRequestFrom(moved, IP_C, IP_C), 0, 42, 0);
  assert.equal(p.b.arpLookup(IP_C), moved);
  p.b.receive(arpRequestFrom(0x0200_0000_0055, 0x0a00_0055, 0x0a00_0055), 0, 42, 0);
  assert.equal(p.b.arpLookup(0x0a00_0055), undefined);
});

test("another MAC claiming our address is counted as a conflict and not learnt", () => {
  const p = pair();
  p.b.receive(arpFrame(ARPOP_REPLY, MAC_C, IP_B, MAC_B, IP_B, MAC_B), 0, 42, 0);
  assert.equal(p.b.counters.get("arpConflicts"), 1);
  assert.equal(p.b.arpLookup(IP_B), undefined);
});

test("a sender with a group MAC is refused as malformed", () => {
  const p = pair();
  p.b.receive(arpRequestFrom(0x0100_5e00_0001, IP_C, IP_B), 0, 42, 0);
  assert.equal(p.b.counters.get("rxDropMalformed"), 1);
  assert.equal(p.b.arpLookup(IP_C), undefined);
});

test("a REACHABLE entry goes STALE after reachableMs and is still used; nothing is asked until a frame goes", async () => {
  const p = pair({ a: { arp: { reachableMs: 5000 } } });
  const first = p.a.ping(IP_B);
  p.timers.advance(0);
  assert.equal((await first).ok, true);
  assert.deepEqual(stateOf(p.a, IP_B), "reachable");
  p.timers.advance(4900);
  assert.deepEqual(stateOf(p.a, IP_B), "reachable");
  p.timers.advance(100);
  assert.deepEqual(stateOf(p.a, IP_B), "stale");
  assert.equal(p.a.arpLookup(IP_B), MAC_B);
  const sent = p.a.counters.get("arpRequestsSent");
  p.timers.advance(60_000);
  assert.equal(p.a.counters.get("arpRequestsSent"), sent, "a STALE entry nobody uses asks nothing");
  // The next frame goes at once, with the cached MAC, and starts the DELAY timer.
  const again = p.a.ping(IP_B);
  assert.equal(p.a.arpPending, 0);
  assert.deepEqual(stateOf(p.a, IP_B), "delay");
  p.timers.advance(0);
  assert.equal((await again).ok, true);
  assert.equal(p.a.counters.get("arpRequestsSent"), sent);
});

test("DELAY becomes PROBE: unicast requests to the cached MAC, and a unicast reply makes it REACHABLE", () => {
  const p = pair({ a: { arp: { reachableMs: 5000, delayMs: 2000 } } });
  void p.a.ping(IP_B);
  p.timers.advance(5000);
  void p.a.ping(IP_B);
  assert.deepEqual(stateOf(p.a, IP_B), "delay");
  const before = p.devA.sent.length;
  p.cut.b = true; // B's reply to the probe is held back for now
  p.timers.advance(2000);
  assert.deepEqual(stateOf(p.a, IP_B), "probe");
  const probes = p.devA.sent.slice(before).filter((f) => isArpRequest(f.bytes));
  assert.equal(probes.length, 1);
  assert.equal(toHex(probes[0].bytes), expectedArp(MAC_B, MAC_A, ARPOP_REQUEST, MAC_A, IP_A, 0, IP_B));
  // Frames still go while it probes.
  void p.a.ping(IP_B);
  assert.equal(p.a.arpPending, 0);
  p.cut.b = false;
  p.timers.advance(1000); // the second probe is answered, by unicast
  assert.deepEqual(stateOf(p.a, IP_B), "reachable");
  assert.equal(p.a.counters.get("txDropArpQueueFull") + p.a.counters.get("txDropNoArp"), 0);
});

test("a broadcast reply or a request refreshes nothing: only a unicast reply confirms", () => {
  const p = pair({ a: { arp: { reachableMs: 1000 } } });
  p.a.receive(arpRequestFrom(MAC_B, IP_B, IP_A), 0, 42, 0);
  assert.deepEqual(stateOf(p.a, IP_B), "stale");
  p.a.receive(arpFrame(ARPOP_REPLY, MAC_B, IP_B, MAC_A, IP_A), 0, 42, 0); // broadcast
  assert.deepEqual(stateOf(p.a, IP_B), "stale");
  p.a.receive(arpFrame(ARPOP_REPLY, MAC_B, IP_B, MAC_A, IP_A, MAC_A), 0, 42, 0);
  assert.deepEqual(stateOf(p.a, IP_B), "reachable");
});

test("a new MAC for a known address waits out locktime unless the ARP is gratuitous", () => {
  const p = pair({ a: { arp: { locktimeMs: 1000 } } });
  void p.a.ping(IP_B);
  p.timers.advance(0);
  assert.equal(p.a.arpLookup(IP_B), MAC_B);
  const other = 0x0200_0000_00bb;
  p.a.receive(arpFrame(ARPOP_REPLY, other, IP_B, MAC_A, IP_A, MAC_A), 0, 42, 0);
  assert.equal(p.a.arpLookup(IP_B), MAC_B, "a second answer within locktime is ignored");
  p.timers.advance(1000);
  p.a.receive(arpFrame(ARPOP_REPLY, other, IP_B, MAC_A, IP_A, MAC_A), 0, 42, 0);
  assert.equal(p.a.arpLookup(IP_B), other);
  p.a.receive(arpRequestFrom(MAC_B, IP_B, IP_B), 0, 42, 0);
  assert.equal(p.a.arpLookup(IP_B), MAC_B, "a gratuitous ARP is believed at once");
  assert.deepEqual(stateOf(p.a, IP_B), "stale");
});

test("a steady flow between two live stacks over several entry lifetimes loses nothing", () => {
  const p = pair({ latencyMs: 1 });
  let got = 0;
  p.b.bindUdp(9, () => got++);
  const sock = p.a.bindUdp(0, () => {});
  const echoes = p.b.bindUdp(10, () => {});
  let sent = 0;
  // 8 frames every 10 ms for 4 minutes: each side's entry ages (30 s), is probed and
  // confirmed, several times; a refresh that made frames wait for a reply would drop some.
  for (let t = 0; t < 240_000; t += 10) {
    for (let k = 0; k < 8; k++) {
      assert.equal(sock.sendTo(IP_B, 9, Uint8Array.of(1, 2, 3)), SEND_OK);
      sent++;
    }
    assert.equal(echoes.sendTo(IP_A, 11, Uint8Array.of(4)), SEND_OK);
    p.timers.advance(10);
  }
  p.timers.advance(10);
  assert.equal(got, sent);
  for (const s of [p.a, p.b]) {
    assert.equal(s.counters.get("txDropArpQueueFull"), 0);
    assert.equal(s.counters.get("txDropNoArp"), 0);
    assert.equal(s.counters.get("txDropQueueFull"), 0);
  }
  // After the first answer, every refresh was by unicast probe: A broadcast only twice
  // (its gratuitous ARP and the first who-has).
  assert.equal(p.devA.sent.filter((f) => isArpRequest(f.bytes) && f.bytes[0] === 0xff).length, 2);
  assert.ok(p.devA.sent.filter((f) => isArpRequest(f.bytes) && f.bytes[0] !== 0xff).length >= 4);
});

test("a peer that dies: PROBE, then FAILED; frames after that wait, then drop as txDropNoArp", () => {
  const p = pair({ a: { arp: { reachableMs: 1000, delayMs: 1000, unicastProbes: 3, retries: 3 } } });
  const sock = p.a.bindUdp(0, () => {});
  sock.sendTo(IP_B, 9, Uint8Array.of(0));
  p.timers.advance(0);
  assert.deepEqual(stateOf(p.a, IP_B), "reachable");
  p.cut.b = true; // B is gone
  const states: string[] = [];
  const note = (): void => {
    const s = stateOf(p.a, IP_B);
    if (states.at(-1) !== s) states.push(s);
  };
  for (let t = 0; t < 10_000; t += 100) {
    note();
    sock.sendTo(IP_B, 9, Uint8Array.of(1));
    note();
    p.timers.advance(100);
  }
  // Reachable 1 s, then STALE until the next frame, DELAY 1 s, PROBE with 3 unicast
  // requests, FAILED; the next frame starts over: INCOMPLETE with 3 broadcasts, FAILED...
  assert.deepEqual(states, [
    "reachable",
    "stale",
    "delay",
    "probe",
    "failed",
    "incomplete",
    "failed",
    "incomplete",
  ]);
  // Every frame is accounted for: on the wire (sent while the MAC was believed), dropped
  // with its reason, or still waiting.
  const drops = p.a.counters.get("txDropNoArp");
  assert.ok(drops >= 20, `dropped ${drops}`);
  assert.equal(p.a.counters.get("txDropArpQueueFull"), 0);
  assert.equal(drops + p.a.arpPending + p.devA.sent.filter((f) => isUdp(f.bytes)).length, 1 + 100);
});

test("unresolved frames wait by bytes: a burst waits whole, and one host's bound is queueBytes", () => {
  const p = pair({ a: { arp: { queueBytes: 10_000 }, arpPendingBytes: 64 * 1024 } });
  const got: number[] = [];
  p.b.bindUdp(9, (_s, _p, buf, off) => got.push(buf[off]));
  const sock = p.a.bindUdp(0, () => {});
  p.cut.b = true; // B's ARP replies are lost for now
  // 100 small frames: a count-bounded queue of 4 would have refused 96.
  const small = Array.from({ length: 100 }, (_, i) => sock.sendTo(IP_B, 9, Uint8Array.of(i)));
  assert.ok(small.every((r) => r === SEND_OK));
  assert.equal(p.a.arpPending, 100);
  // Big frames fill B's 10 000 bytes: 100 x 43 bytes are there; (10000 - 4300) / 1042 = 5 more.
  const big = Array.from({ length: 7 }, () => sock.sendTo(IP_B, 9, new Uint8Array(1000)));
  assert.deepEqual(big, [SEND_OK, SEND_OK, SEND_OK, SEND_OK, SEND_OK, SEND_ENOBUFS, SEND_ENOBUFS]);
  assert.equal(p.a.counters.get("txDropArpQueueFull"), 2);
  // Another host has its own bound, within the shared pool.
  assert.equal(sock.sendTo(IP_NOBODY, 9, new Uint8Array(1000)), SEND_OK);
  p.cut.b = false;
  p.timers.advance(1000); // the retry is answered: B's frames go, oldest first
  assert.deepEqual(
    got.slice(0, 100),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.equal(got.length, 105);
  assert.equal(p.a.arpPending, 1);
});

test("the pending pool is shared: when it is full another host's frame is refused and counted", () => {
  const p = pair({ a: { arpPendingBytes: 3 * (12 + 1044) } });
  const sock = p.a.bindUdp(0, () => {});
  p.cut.b = true;
  const r = [0, 1, 2].map(() => sock.sendTo(IP_B, 9, new Uint8Array(1000)));
  assert.deepEqual(r, [SEND_OK, SEND_OK, SEND_OK]);
  assert.equal(sock.sendTo(IP_NOBODY, 9, new Uint8Array(1000)), SEND_ENOBUFS);
  assert.equal(p.a.counters.get("txDropArpQueueFull"), 1);
});

test("an unanswered address is asked `retries` times, then its frames drop as txDropNoArp", async () => {
  const p = pair({ a: { arp: { retries: 3, retryMs: 1000 } } });
  const r = p.a.ping(IP_NOBODY, { timeoutMs: 10_000 });
  p.timers.advance(0);
  assert.equal(p.a.arpPending, 1);
  assert.deepEqual(stateOf(p.a, IP_NOBODY), "incomplete");
  p.timers.advance(2000);
  assert.equal(p.a.counters.get("arpRequestsSent"), 1 + 3);
  assert.equal(p.a.counters.get("txDropNoArp"), 0);
  p.timers.advance(1000);
  assert.equal(p.a.counters.get("arpRequestsSent"), 1 + 3);
  assert.equal(p.a.counters.get("txDropNoArp"), 1);
  assert.equal(p.a.arpPending, 0);
  assert.deepEqual(stateOf(p.a, IP_NOBODY), "failed");
  p.timers.advance(7000);
  assert.deepEqual(await r, { ok: false, seq: 0, reason: "timeout" });
  // The next frame asks again from the start.
  void p.a.ping(IP_NOBODY);
  assert.deepEqual(stateOf(p.a, IP_NOBODY), "incomplete");
  assert.equal(p.a.counters.get("arpRequestsSent"), 1 + 4);
});

type Ev =
  | { t: "send"; to: number; size: number }
  | { t: "arp"; oper: number; sha: number; spa: number; tpa: number; unicast: boolean }
  | { t: "wait"; ms: number }
  | { t: "cut"; on: boolean };

const GROUP_MAC = 0x0100_5e00_0001;
const TARGETS = [IP_B, IP_C, IP_NOBODY];

const evArb: fc.Arbitrary<Ev> = fc.oneof(
  fc.record({ t: fc.constant("send" as const), to: fc.constantFrom(...TARGETS), size: fc.nat(1400) }),
  fc.record({
    t: fc.constant("arp" as const),
    oper: fc.constantFrom(ARPOP_REQUEST, ARPOP_REPLY, 3),
    sha: fc.oneof(fc.constantFrom(MAC_B, MAC_C, GROUP_MAC, MAC_A), fc.integer({ min: 0, max: 2 ** 48 - 1 })),
    spa: fc.oneof(fc.constantFrom(IP_B, IP_C, IP_NOBODY, IP_A, 0, 0xe000_0001, 0xffff_ffff), fc.nat()),
    tpa: fc.oneof(fc.constantFrom(IP_A, IP_B, IP_C), fc.nat()),
    unicast: fc.boolean(),
  }),
  fc.record({ t: fc.constant("wait" as const), ms: fc.nat(3000) }),
  fc.record({ t: fc.constant("cut" as const), on: fc.boolean() }),
);

test("property: hostile ARP sequences never break the neighbour state machine or lose a frame uncounted", () => {
  fc.assert(
    fc.property(fc.array(evArb, { maxLength: 60 }), (evs) => {
      const p = pair({ latencyMs: 1 });
      const a = p.a;
      // When A asked for each address, to check its pace.
      const asked = new Map<number, number>();
      const wire = p.devA.onSend!;
      p.devA.onSend = (f) => {
        const b = f.bytes;
        if (isArpRequest(b)) {
          const tpa = new DataView(b.buffer, b.byteOffset).getUint32(ETH_HLEN + 24);
          const spa = new DataView(b.buffer, b.byteOffset).getUint32(ETH_HLEN + 14);
          if (tpa !== spa) {
            const last = asked.get(tpa);
            assert.ok(
              last === undefined || p.timers.now - last >= 1000,
              `asked for ${tpa} again after ${p.timers.now - (last ?? 0)} ms`,
            );
            asked.set(tpa, p.timers.now);
          }
        }
        wire(f);
      };
      const sock = a.bindUdp(0, () => {});
      let offered = 0;
      for (const ev of evs) {
        const before = new Map(a.arpEntries().map((e) => [e.ip, e.state]));
        if (ev.t === "send") {
          sock.sendTo(ev.to, 9, new Uint8Array(ev.size));
          offered++;
        } else if (ev.t === "wait") p.timers.advance(ev.ms);
        else if (ev.t === "cut") p.cut.b = ev.on;
        else {
          const f = arpFrame(ev.oper, ev.sha, ev.spa, 0, ev.tpa, ev.unicast ? MAC_A : 0xffff_ffff_ffff);
          a.receive(f, 0, f.length, 0);
          const confirms = ev.oper === ARPOP_REPLY && ev.unicast;
          const e = a.arpEntries().find((x) => x.ip === ev.spa >>> 0);
          if (!confirms && e !== undefined)
            assert.ok(
              e.state !== "reachable" || before.get(e.ip) === "reachable",
              "only a unicast reply confirms",
            );
        }
        for (const e of a.arpEntries()) {
          assert.ok(!isMartian(e.ip) && e.ip !== 0 && e.ip !== IP_A, `entry for ${e.ip}`);
          const usable =
            e.state === "reachable" || e.state === "stale" || e.state === "delay" || e.state === "probe";
          assert.equal(e.mac !== undefined, usable);
          if (e.mac !== undefined) assert.equal(Math.floor(e.mac / 2 ** 40) & 1, 0, "a group MAC was learnt");
          if (e.state !== "incomplete") assert.equal(e.pending, 0, `${e.state} with frames waiting`);
        }
        const c = a.counters.snapshot();
        const onWire = p.devA.sent.filter((f) => isUdp(f.bytes)).length;
        assert.equal(
          onWire + c.txDropArpQueueFull + c.txDropNoArp + c.txDropQueueFull + a.arpPending + a.txQueued,
          offered,
          "every frame sent, waiting, or dropped with a reason",
        );
      }
    }),
    { numRuns: 200 },
  );
});
