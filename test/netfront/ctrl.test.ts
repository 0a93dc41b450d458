import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { VifHash } from "../../src/netback/hash.js";
import { steeringFor } from "../../src/netfront/ctrl.js";
import { XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ } from "../../src/wire/xen/netif-ctrl.js";
import { Harness } from "./harness.js";

/** An Ethernet + IPv4/IPv6 + TCP or UDP frame between two hosts. */
function frame(src: number[], dst: number[], sp: number, dp: number, v6: boolean, tcp: boolean): Uint8Array {
  const eth = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, ...(v6 ? [0x86, 0xdd] : [0x08, 0x00])];
  const proto = tcp ? 6 : 17;
  const ip = v6
    ? [0x60, 0, 0, 0, 0, 28, proto, 64, ...src, ...dst]
    : [0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, proto, 0, 0, ...src, ...dst];
  return Uint8Array.from([...eth, ...ip, sp >> 8, sp & 255, dp >> 8, dp & 255, ...Array(24).fill(0)]);
}

/** netback's view of the same programming (what NetbackCtrl commits for these requests). */
function backendHash(nq: number): VifHash {
  const st = steeringFor(nq, 0xf, 128);
  const h = new VifHash();
  h.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
  h.hasher.setKey(st.hasher.key, st.hasher.keyLen);
  h.hasher.flags = 0xf;
  h.size = st.size;
  h.mapping.set(st.mapping.subarray(0, st.size));
  return h;
}

test("steering: a flow leaves on the queue the mapping names, and its replies come back on it", () => {
  const nq = 4;
  const h = new Harness({ queues: nq });
  const st = steeringFor(nq, 0xf, 128);
  h.dev.setSteering(st);
  const back = backendHash(nq);
  const addr4 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
  const addr6 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 });
  const port = fc.integer({ min: 1, max: 0xffff });
  const used = new Set<number>();
  fc.assert(
    fc.property(
      fc.boolean(),
      addr4,
      addr4,
      addr6,
      addr6,
      port,
      port,
      fc.boolean(),
      (v6, a4, b4, a6, b6, sp, dp, tcp) => {
        const [a, b] = v6 ? [a6, b6] : [a4, b4];
        const out = frame(a, b, sp, dp, v6, tcp);
        const reply = frame(b, a, dp, sp, v6, tcp);
        assert.ok(st.hasher.hash(out, 0, out.length));
        const want = st.mapping[st.hasher.value % st.size];
        const before = h.echo.map((e) => e.stats.frames);
        assert.ok(h.dev.transmit(out, out.length, 0));
        h.pump();
        const moved = h.echo.map((e, q) => e.stats.frames - before[q]);
        assert.deepEqual(
          moved,
          [0, 1, 2, 3].map((q) => (q === want ? 1 : 0)),
          "TX on the mapped queue",
        );
        assert.equal(back.queueFor(reply, 0, reply.length, nq), want, "the reply steered to the same queue");
        used.add(want);
      },
    ),
    { numRuns: 150 },
  );
  assert.equal(used.size, nq, "every queue carries flows");
});

test("steering off: the device's own flow hash picks the queue again", () => {
  const h = new Harness({ queues: 2 });
  h.dev.setSteering(steeringFor(2, 0xf, 128));
  h.dev.setSteering(null);
  const f = frame([10, 0, 0, 1], [10, 0, 0, 2], 1, 2, false, true);
  assert.ok(h.dev.transmit(f, f.length, 0));
  h.pump();
  assert.equal(h.echo[0].stats.frames + h.echo[1].stats.frames, 1);
});
