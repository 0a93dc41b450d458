import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { toeplitz } from "../../src/base/toeplitz.js";
import { RssHasher, symmetricRssKey } from "../../src/wire/net/rss.js";

// Microsoft's "Verifying the RSS Hash Calculation" key and vectors (destination, source,
// address-only hash, hash with ports). Input order is source, destination, ports likewise.
const MS_KEY = Uint8Array.from([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca,
  0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b,
  0xbe, 0xac, 0x01, 0xfa,
]);
const V4: [string, number, string, number, number, number][] = [
  ["161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178],
  ["65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea],
  ["12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a],
  ["209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f],
  ["202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2],
];
const V6: [string, number, string, number, number, number][] = [
  ["3ffe:2501:200:3::1", 1766, "3ffe:2501:200:1fff::7", 2794, 0x2cc18cd5, 0x40207d3d],
  ["ff02::1", 4739, "3ffe:501:8::260:97ff:fe40:efab", 14230, 0x0f0c461c, 0xdde51bbf],
  ["fe80::200:f8ff:fe21:67cf", 38024, "3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, 0x4b61e985, 0x02d1feef],
];

function v4(a: string): number[] {
  return a.split(".").map(Number);
}
function v6(a: string): number[] {
  const [head, tail] = a.includes("::") ? a.split("::") : [a, ""];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((g) => Number.parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 255]);
}
function port(p: number): number[] {
  return [p >> 8, p & 255];
}

test("Toeplitz: Microsoft's IPv4 vectors, with and without ports", () => {
  for (const [dst, dp, src, sp, ip, tcp] of V4) {
    const a = Uint8Array.from([...v4(src), ...v4(dst)]);
    const b = Uint8Array.from([...a, ...port(sp), ...port(dp)]);
    assert.equal(toeplitz(MS_KEY, 40, a, 0, 8), ip, `${src} -> ${dst}`);
    assert.equal(toeplitz(MS_KEY, 40, b, 0, 12), tcp, `${src}:${sp} -> ${dst}:${dp}`);
  }
});

test("Toeplitz: Microsoft's IPv6 vectors, with and without ports", () => {
  for (const [dst, dp, src, sp, ip, tcp] of V6) {
    const a = Uint8Array.from([...v6(src), ...v6(dst)]);
    const b = Uint8Array.from([...a, ...port(sp), ...port(dp)]);
    assert.equal(toeplitz(MS_KEY, 40, a, 0, 32), ip, `${src} -> ${dst}`);
    assert.equal(toeplitz(MS_KEY, 40, b, 0, 36), tcp, `${src}:${sp} -> ${dst}:${dp}`);
  }
});

function tcpFrame(src: number[], dst: number[], sp: number, dp: number, v6frame: boolean): Uint8Array {
  const eth = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, ...(v6frame ? [0x86, 0xdd] : [0x08, 0x00])];
  const ip = v6frame
    ? [0x60, 0, 0, 0, 0, 20, 6, 64, ...src, ...dst]
    : [0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, ...src, ...dst];
  return Uint8Array.from([...eth, ...ip, ...port(sp), ...port(dp), ...Array(16).fill(0)]);
}

test("RssHasher: a frame hashes as its addresses and ports; the maximal enabled type wins", () => {
  const h = new RssHasher();
  h.setKey(MS_KEY);
  const [dst, dp, src, sp, ip, tcp] = V4[0];
  const f = tcpFrame(v4(src), v4(dst), sp, dp, false);
  h.flags = 0b0011;
  assert.ok(h.hash(f, 0, f.length));
  assert.deepEqual([h.value, h.type], [tcp, 1]);
  h.flags = 0b0001;
  assert.ok(h.hash(f, 0, f.length));
  assert.deepEqual([h.value, h.type], [ip, 0]);
  h.flags = 0b0100;
  assert.equal(h.hash(f, 0, f.length), false, "no IPv4 type enabled");
  const [d6, dp6, s6, sp6, ip6, tcp6] = V6[2];
  const g = tcpFrame(v6(s6), v6(d6), sp6, dp6, true);
  h.flags = 0b1100;
  assert.ok(h.hash(g, 0, g.length));
  assert.deepEqual([h.value, h.type], [tcp6, 3]);
  h.flags = 0b0100;
  assert.ok(h.hash(g, 0, g.length));
  assert.deepEqual([h.value, h.type], [ip6, 2]);
  assert.equal(h.hash(g, 0, 40), false, "a truncated frame has no hash");
});

test("RssHasher: under the symmetric key both directions of a flow hash alike", () => {
  const h = new RssHasher();
  h.setKey(symmetricRssKey());
  h.flags = 0b1111;
  const addr = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
  const p = fc.integer({ min: 0, max: 0xffff });
  fc.assert(
    fc.property(addr, addr, p, p, (a, b, pa, pb) => {
      const f = tcpFrame(a, b, pa, pb, false);
      const r = tcpFrame(b, a, pb, pa, false);
      assert.ok(h.hash(f, 0, f.length));
      const x = h.value;
      assert.ok(h.hash(r, 0, r.length));
      assert.equal(h.value, x);
    }),
    { numRuns: 200 },
  );
});

test("Toeplitz: an empty key hashes to 0; key bytes past the length count as zero", () => {
  const d = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(toeplitz(MS_KEY, 0, d, 0, 8), 0);
  const short = MS_KEY.slice(0, 10);
  const padded = new Uint8Array(40);
  padded.set(short);
  assert.equal(toeplitz(MS_KEY, 10, d, 0, 8), toeplitz(padded, 40, d, 0, 8));
});
