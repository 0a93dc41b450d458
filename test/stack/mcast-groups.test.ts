import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { groupMac, MCAST_GROUPS_MAX, McastGroups } from "../../src/stack/mcast-groups.js";
import { SEND_OK } from "../../src/stack/send-status.js";
import { pair } from "./harness.js";

const G1 = 0xef010101; // 239.1.1.1
const G2 = 0xef020202;

test("a stack receives UDP sent to a group it joined, and nothing once it left; the device is told each MAC once", () => {
  const p = pair();
  const joined: number[] = [];
  const left: number[] = [];
  Object.assign(p.devB, {
    joinMulticast: (m: number) => joined.push(m),
    leaveMulticast: (m: number) => left.push(m),
  });
  const got: number[] = [];
  p.b.bindUdp(5000, (_s, _p, buf, off) => got.push(buf[off]));
  const sock = p.a.bindUdp(0, () => {});
  const send = (g: number, v: number) => {
    assert.equal(sock.sendTo(g, 5000, new Uint8Array([v])), SEND_OK);
    p.timers.advance(1);
  };
  send(G1, 1);
  assert.deepEqual(got, [], "not joined: dropped");
  p.b.joinGroup(G1);
  p.b.joinGroup(G1);
  assert.deepEqual(joined, [groupMac(G1)]);
  send(G1, 2);
  send(G2, 3);
  assert.deepEqual(got, [2], "the joined group only");
  const frame = p.devA.sent.at(-1)!.bytes;
  assert.deepEqual([...frame.subarray(0, 6)], [0x01, 0x00, 0x5e, 0x02, 0x02, 0x02], "RFC 1112 MAC");
  send(0xe0000001, 4);
  assert.deepEqual(got, [2, 4], "all-hosts without joining");
  p.b.leaveGroup(G1);
  assert.deepEqual(left, [groupMac(G1)]);
  send(G1, 5);
  assert.deepEqual(got, [2, 4]);
  assert.throws(() => p.b.joinGroup(0x0a000001), /group/);
});

test("property: McastGroups holds at most its bound, has() and hasMac() agree with the joined set", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.boolean(),
          fc.oneof(fc.constant(0xe0000001), fc.integer({ min: 0xe0000000, max: 0xefffffff })),
        ),
        { maxLength: 60 },
      ),
      (ops) => {
        const g = new McastGroups();
        const model = new Set<number>();
        for (const [join, ip] of ops) {
          if (ip === 0xe0000001) {
            assert.equal(join ? g.join(ip) : g.leave(ip), false, "all-hosts is always joined, never listed");
            continue;
          }
          if (join) {
            if (model.size >= MCAST_GROUPS_MAX && !model.has(ip)) {
              assert.throws(() => g.join(ip), RangeError);
              continue;
            }
            assert.equal(g.join(ip), !model.has(ip));
            model.add(ip);
          } else assert.equal(g.leave(ip), model.delete(ip));
        }
        assert.equal(g.count, model.size);
        for (const [, ip] of ops) {
          assert.equal(g.has(ip), model.has(ip) || ip === 0xe0000001);
          const u8 = new Uint8Array(6);
          const mac = groupMac(ip);
          for (let i = 0; i < 6; i++) u8[i] = Math.floor(mac / 2 ** (8 * (5 - i))) & 0xff;
          const want = [...model, 0xe0000001].some((m) => (m & 0x7fffff) === (ip & 0x7fffff));
          assert.equal(g.hasMac(u8, 0), want);
        }
      },
    ),
  );
});
