/** Test fixtures for the wire/net tests: golden frames and small reference implementations. */
import { PerformanceObserver } from "node:perf_hooks";

/**
 * A deliberately naive RFC 1071 checksum for tests: sum every big-endian 16-bit word as a
 * plain number (no chunking, no early folding), then fold with division. It shares no code
 * with src/wire/net/checksum.ts, so the two can check each other.
 */
export function referenceChecksum(bytes: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += bytes[i] * 256 + (i + 1 < bytes.length ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return 0xffff - sum;
}

/** Bytes from a hex string with optional spaces: "ff 00 1a". */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A buffer of `n` bytes of 0xa5, so a field emit forgets to write shows up. */
export function poisoned(n: number): Uint8Array {
  return new Uint8Array(n).fill(0xa5);
}

/** The IPv4 pseudo-header as bytes, built field by field for the reference sum. */
export function pseudoHeaderBytes(saddr: number, daddr: number, protocol: number, len: number): number[] {
  const b = (v: number, n: number) =>
    Array.from({ length: n }, (_, i) => Math.floor(v / 256 ** (n - 1 - i)) % 256);
  return [...b(saddr, 4), ...b(daddr, 4), 0, protocol, ...b(len, 2)];
}

/** The captured ARP request (Linux kernel VXLAN device): 192.168.42.1 asks for .2. */
export const ARP_REQUEST_FRAME = hex(
  "ff ff ff ff ff ff 4e 8c d8 57 73 4c 08 06 00 01 08 00 06 04 00 01 4e 8c d8 57 73 4c c0 a8 2a 01" +
    " 00 00 00 00 00 00 c0 a8 2a 02",
);

/**
 * Garbage collections (minor or major) seen while `fn` runs `n` times, after a warm-up so
 * the optimizing compiler has settled. An allocation-free loop sees 0; one small object
 * per iteration shows dozens over 10^6 iterations (shared/design/style.md section 5).
 */
export async function countGcs(fn: (i: number) => void, n: number): Promise<number> {
  for (let i = 0; i < 100_000; i++) fn(i);
  await new Promise((r) => setTimeout(r, 20));
  let gcs = 0;
  let t0 = 0;
  let t1 = Number.POSITIVE_INFINITY;
  // Only collections that start inside the loop count: the wait for the entries below
  // (and the test runner around it) may collect garbage that is not the loop's.
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (e.startTime >= t0 && e.startTime <= t1) gcs++;
  });
  obs.observe({ entryTypes: ["gc"] });
  t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  t1 = performance.now();
  // Entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return gcs;
}
