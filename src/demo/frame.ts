/**
 * The demo's frame: Ethernet II / IPv4 / UDP from 02:00:00:00:00:01 (10.0.0.1:4000) to
 * 02:00:00:00:00:02 (10.0.0.2:5000), payload filled with a pattern, the first four payload
 * bytes a big-endian sequence number. Checksums are left zero: the demo does not need them
 * and the pcap/stack layers compute real ones.
 */
export function demoFrame(len: number): Uint8Array {
  const f = new Uint8Array(Math.max(len, 60));
  const dv = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  dv.setUint16(12, 0x0800);
  f[14] = 0x45;
  dv.setUint16(16, len - 14);
  f[22] = 64;
  f[23] = 17;
  dv.setUint32(26, 0x0a000001);
  dv.setUint32(30, 0x0a000002);
  dv.setUint16(34, 4000);
  dv.setUint16(36, 5000);
  dv.setUint16(38, len - 34);
  for (let i = 42; i < f.length; i++) f[i] = i & 0xff;
  return f.subarray(0, len);
}
