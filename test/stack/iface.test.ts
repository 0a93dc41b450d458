import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PvnetError } from "../../src/base/errors.js";
import { STACK_COUNTER_NAMES } from "../../src/stack/counters.js";
import { NetStack } from "../../src/stack/iface.js";
import { ARPOP_REPLY } from "../../src/wire/net/arp.js";
import { ETH_HLEN } from "../../src/wire/net/ethernet.js";
import { ICMP_ECHOREPLY } from "../../src/wire/net/icmp.js";
import { IPPROTO_ICMP } from "../../src/wire/net/ipv4.js";
import { referenceChecksum } from "../wire/net/fixtures.js";
import {
  arpFrame,
  arpRequestFrom,
  echoRequestFrame,
  IP_C,
  icmpMessage,
  ipv4Frame,
  MAC_C,
  udpFrame,
} from "./frames.js";
import { IP_A, IP_B, MAC_A, MAC_B, pair, TestDevice } from "./harness.js";

/** Counters where each received frame ends up: exactly one of them moves per frame. */
const OUTCOMES = [
  ...STACK_COUNTER_NAMES.filter((n) => n.startsWith("rxDrop")),
  "arpRequestsReceived",
  "arpRepliesReceived",
  "icmpEchoRequests",
  "icmpEchoReplies",
  "udpDatagramsReceived",
] as const;

const TEMPLATES = [
  arpRequestFrom(MAC_C, IP_C, IP_B),
  arpFrame(ARPOP_REPLY, MAC_C, IP_C, MAC_B, IP_B, MAC_B),
  echoRequestFrame(),
  echoRequestFrame(Uint8Array.of(1), { options: Uint8Array.of(1, 1, 1, 0) }),
  udpFrame(1234, 7, Uint8Array.of(1, 2, 3, 4)),
  udpFrame(1234, 9, Uint8Array.of(1, 2, 3, 4)),
  udpFrame(1234, 7, Uint8Array.of(5), { daddr: 0xffff_ffff, dst: 0xffff_ffff_ffff }),
  ipv4Frame(IPPROTO_ICMP, icmpMessage(ICMP_ECHOREPLY, 1, 2, Uint8Array.of(3))),
  // Rare refusals as templates of their own, so every run reaches them (a TTL edit that
  // keeps the checksum right is too rare among random edits to count on).
  echoRequestFrame(Uint8Array.of(2), { ttl: 0 }),
  echoRequestFrame(Uint8Array.of(3), { moreFrags: true }),
];

/** Refills the IPv4 header checksum so edits reach the checks behind it. */
function fixIpChecksum(b: Uint8Array): void {
  if (b.length < ETH_HLEN + 20 || b[12] !== 0x08 || b[13] !== 0x00) return;
  const hlen = (b[ETH_HLEN] & 0x0f) * 4;
  if (hlen < 20 || ETH_HLEN + hlen > b.length) return;
  b[ETH_HLEN + 10] = 0;
  b[ETH_HLEN + 11] = 0;
  const c = referenceChecksum(b.subarray(ETH_HLEN, ETH_HLEN + hlen));
  b[ETH_HLEN + 10] = c >>> 8;
  b[ETH_HLEN + 11] = c & 0xff;
}

/** A template with a few bytes rewritten (mostly in the headers), cut or extended. */
const mutatedFrame = fc
  .record({
    t: fc.integer({ min: 0, max: TEMPLATES.length - 1 }),
    // IPv4's version/IHL, flags, TTL and protocol, and boundary values, often.
    edits: fc.array(
      fc.tuple(
        fc.oneof(fc.nat(60), fc.constantFrom(14, 20, 22, 23)),
        fc.oneof(fc.constantFrom(0, 0x20, 0x45, 0x4f, 0xff), fc.nat(255)),
      ),
      {
        maxLength: 4,
      },
    ),
    cut: fc.integer({ min: -20, max: 40 }),
    fix: fc.boolean(),
  })
  .map(({ t, edits, cut, fix }) => {
    const base = TEMPLATES[t];
    const out = new Uint8Array(Math.max(0, base.length + cut));
    out.set(base.subarray(0, Math.min(base.length, out.length)));
    for (const [pos, v] of edits) if (pos < out.length) out[pos] = v;
    if (fix) fixIpChecksum(out);
    return out;
  });

const anyFrame = fc.oneof(mutatedFrame, fc.uint8Array({ maxLength: 1600 }));

test("any bytes fed to receive never throw, end in exactly one outcome, and emit only valid replies", async () => {
  const seen: Record<string, number> = {};
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ frame: anyFrame, lead: fc.nat(8), flags: fc.nat(31) }), { maxLength: 20 }),
      async (inputs) => {
        const p = pair();
        p.b.startUdpEcho();
        const before = p.devB.sent.length;
        for (const { frame, lead, flags } of inputs) {
          const buf = new Uint8Array(lead + frame.length);
          buf.set(frame, lead);
          p.b.receive(buf, lead, frame.length, flags);
        }
        const c = p.b.counters.snapshot();
        const outcomes = OUTCOMES.reduce((s, n) => s + c[n], 0);
        assert.equal(c.rxFrames, inputs.length + 1, "every frame counted (plus A's gratuitous ARP)");
        assert.equal(outcomes, c.rxFrames, "each frame lands in one outcome");
        for (const n of OUTCOMES) seen[n] = (seen[n] ?? 0) + c[n];
        for (const { bytes } of p.devB.sent.slice(before)) {
          if (bytes[12] === 0x08 && bytes[13] === 0x00) {
            assert.equal(referenceChecksum(bytes.subarray(ETH_HLEN, ETH_HLEN + 20)), 0);
          } else {
            assert.equal((bytes[12] << 8) | bytes[13], 0x0806);
          }
        }
        // Whatever it saw, B still answers A.
        const r = p.a.ping(IP_B);
        p.timers.advance(0);
        assert.equal((await r).ok, true);
      },
    ),
    { numRuns: 300 },
  );
  // The generator reaches every layer's refusals and every delivery, not just the first check.
  const reached = OUTCOMES.filter((n) => !(seen[n] > 0) && n !== "rxDropDown");
  assert.deepEqual(reached, [], "outcomes no generated frame reached");
});

test("receive refuses offsets and lengths outside the buffer as malformed", () => {
  const p = pair();
  const f = echoRequestFrame();
  for (const [off, len] of [
    [-1, 10],
    [0, f.length + 1],
    [1.5, 10],
    [Number.NaN, 10],
    [f.length, 1],
  ]) {
    p.b.receive(f, off, len, 0);
  }
  const big = new Uint8Array(1515);
  p.b.receive(big, 0, big.length, 0);
  assert.equal(p.b.counters.get("rxDropMalformed"), 6);
});

test("configuration errors are PvnetError EINVAL naming the field", () => {
  const dev = new TestDevice(MAC_A);
  for (const [opts, field] of [
    [{ ip: 0 }, "ip"],
    [{ ip: 0xe000_0001 }, "ip"],
    [{ ip: IP_A, prefixLen: 33 }, "prefixLen"],
    [{ ip: IP_A, arp: { cacheSize: 0 } }, "arp.cacheSize"],
  ] as const) {
    assert.throws(
      () => new NetStack(dev, opts),
      (e) => e instanceof PvnetError && e.code === "EINVAL" && e.message.includes(field),
    );
  }
  assert.throws(() => new NetStack(new TestDevice(MAC_A, { mtu: 67 }), { ip: IP_A }), /mtu/);
});

test("counters can live in a SharedArrayBuffer another thread reads", () => {
  const sab = new SharedArrayBuffer(STACK_COUNTER_NAMES.length * 8);
  const p = pair({ b: { counters: sab } });
  const reader = new Float64Array(sab);
  const f = echoRequestFrame();
  p.b.receive(f, 0, f.length, 0);
  assert.equal(reader[STACK_COUNTER_NAMES.indexOf("icmpEchoRequests")], 1);
  void IP_A;
  void MAC_A;
});
