/**
 * The capture filter: its text is parsed as tcpdump's primitives, and FrameFilter agrees
 * with a plain model on random frames and random filters (fast-check).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { FrameFilter, parseFilter } from "../../src/vale/capture-filter.js";
import { privateMem } from "../../src/wire/mem.js";

test("parseFilter: the primitives, 'and', and one line saying what is wrong", () => {
  assert.deepEqual(parseFilter(""), []);
  assert.deepEqual(parseFilter("udp port 7 and ip host 10.0.0.2"), [
    { k: "port", proto: "udp", dir: "host", port: 7 },
    { k: "ip", dir: "host", addr: "10.0.0.2" },
  ]);
  assert.deepEqual(parseFilter("ether src 00:16:3E:00:01:00 && tcp dst port 80 and arp"), [
    { k: "ether", dir: "src", mac: "00:16:3e:00:01:00" },
    { k: "port", proto: "tcp", dir: "dst", port: 80 },
    { k: "proto", proto: "arp" },
  ]);
  assert.deepEqual(parseFilter("src host 1.2.3.4 and port 53"), [
    { k: "ip", dir: "src", addr: "1.2.3.4" },
    { k: "port", proto: "any", dir: "host", port: 53 },
  ]);
  for (const [bad, re] of [
    ["udp port", /missing a value/],
    ["udp port 65536", /not 0-65535/],
    ["ether host 1.2.3.4", /not a MAC/],
    ["host 00:11:22:33:44:55", /not an IPv4/],
    ["icmp port 3", /icmp has no ports/],
    ["udp or tcp", /expected 'and'/],
    ["udp and", /nothing after 'and'/],
    ["vlan 5", /unknown primitive/],
  ] as const)
    assert.match(String(parseFilter(bad)), re, bad);
});

const MACS = ["00:16:3e:00:01:00", "00:16:3e:00:02:00", "ff:ff:ff:ff:ff:ff"];
const IPS = ["10.0.0.1", "10.0.0.2", "192.0.2.9"];
const PORTS = [7, 53, 4789];

interface Frame {
  src: number;
  dst: number;
  vlan: boolean;
  kind: "ipv4" | "arp";
  proto: number;
  ipSrc: number;
  ipDst: number;
  sport: number;
  dport: number;
  fragment: boolean;
}

function bytesOf(f: Frame): Uint8Array {
  const b = new Uint8Array(96);
  const dv = new DataView(b.buffer);
  const mac = (s: string, at: number): void =>
    b.set(
      s.split(":").map((h) => Number.parseInt(h, 16)),
      at,
    );
  mac(MACS[f.dst]!, 0);
  mac(MACS[f.src]!, 6);
  let at = 12;
  if (f.vlan) {
    dv.setUint16(12, 0x8100);
    dv.setUint16(14, 5);
    at = 16;
  }
  dv.setUint16(at, f.kind === "ipv4" ? 0x0800 : 0x0806);
  const l3 = at + 2;
  if (f.kind === "ipv4") {
    b[l3] = 0x45;
    dv.setUint16(l3 + 6, f.fragment ? 100 : 0);
    b[l3 + 9] = f.proto;
    b.set(IPS[f.ipSrc]!.split(".").map(Number), l3 + 12);
    b.set(IPS[f.ipDst]!.split(".").map(Number), l3 + 16);
    dv.setUint16(l3 + 20, PORTS[f.sport]!);
    dv.setUint16(l3 + 22, PORTS[f.dport]!);
  }
  return b;
}

type Prim = { text: string; model: (f: Frame) => boolean };

const dirArb = fc.constantFrom("src", "dst", "host");
const primArb: fc.Arbitrary<Prim> = fc.oneof(
  fc.tuple(dirArb, fc.nat(2)).map(([d, i]) => ({
    text: `ether ${d} ${MACS[i]}`,
    model: (f: Frame) => (d !== "dst" && f.src === i) || (d !== "src" && f.dst === i),
  })),
  fc.tuple(dirArb, fc.nat(2)).map(([d, i]) => ({
    text: `ip ${d} ${IPS[i]}`,
    model: (f: Frame) =>
      f.kind === "ipv4" && ((d !== "dst" && f.ipSrc === i) || (d !== "src" && f.ipDst === i)),
  })),
  fc.tuple(fc.constantFrom("udp", "tcp", ""), dirArb, fc.nat(2)).map(([p, d, i]) => ({
    text: `${p} ${d === "host" ? "" : d} port ${PORTS[i]}`,
    model: (f: Frame) =>
      f.kind === "ipv4" &&
      !f.fragment &&
      (f.proto === 17 || f.proto === 6) &&
      (p === "" || f.proto === (p === "udp" ? 17 : 6)) &&
      ((d !== "dst" && f.sport === i) || (d !== "src" && f.dport === i)),
  })),
  fc.constantFrom("ip", "arp", "udp", "tcp", "icmp").map((p) => ({
    text: p,
    model: (f: Frame) =>
      p === "arp"
        ? f.kind === "arp"
        : f.kind === "ipv4" && (p === "ip" || f.proto === { udp: 17, tcp: 6, icmp: 1 }[p]),
  })),
);

const frameArb: fc.Arbitrary<Frame> = fc.record({
  src: fc.nat(2),
  dst: fc.nat(2),
  vlan: fc.boolean(),
  kind: fc.constantFrom("ipv4" as const, "arp" as const),
  proto: fc.constantFrom(1, 6, 17),
  ipSrc: fc.nat(2),
  ipDst: fc.nat(2),
  sport: fc.nat(2),
  dport: fc.nat(2),
  fragment: fc.boolean(),
});

test("FrameFilter matches as the model does, for any frame and any filter of up to 3 primitives", () => {
  const m = privateMem(128);
  fc.assert(
    fc.property(fc.array(primArb, { maxLength: 3 }), frameArb, fc.nat(16), (prims, f, at) => {
      const terms = parseFilter(prims.map((p) => p.text).join(" and "));
      assert.ok(typeof terms !== "string", String(terms));
      const b = bytesOf(f);
      m.u8.fill(0xee);
      m.u8.set(b, at);
      const want = prims.every((p) => p.model(f));
      assert.equal(new FrameFilter(terms).match(m, at, b.length), want);
    }),
  );
});

test("a frame cut short matches nothing that needs the missing headers, and never reads past it", () => {
  const f = bytesOf({
    src: 0,
    dst: 1,
    vlan: false,
    kind: "ipv4",
    proto: 17,
    ipSrc: 0,
    ipDst: 1,
    sport: 0,
    dport: 0,
    fragment: false,
  });
  const m = privateMem(f.length);
  m.u8.set(f);
  const udp7 = new FrameFilter(parseFilter("udp port 7") as never);
  assert.equal(udp7.match(m, 0, f.length), true);
  assert.equal(udp7.match(m, 0, 14 + 20 + 3), false);
  assert.equal(new FrameFilter(parseFilter("ip host 10.0.0.1") as never).match(m, 0, 14 + 19), false);
  assert.equal(new FrameFilter(parseFilter("ether src 00:16:3e:00:01:00") as never).match(m, 0, 13), false);
});
