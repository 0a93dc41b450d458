import assert from "node:assert/strict";
import { test } from "node:test";
import { FRONT_MCAST_MAX, FrontMcast } from "../../src/netfront/mcast.js";
import {
  XEN_NETIF_EXTRA_TYPE_MCAST_ADD as ADD,
  XEN_NETIF_EXTRA_TYPE_MCAST_DEL as DEL,
} from "../../src/wire/xen/netif.js";

function drain(m: FrontMcast, room = Infinity): [number, number][] {
  const out: [number, number][] = [];
  m.sync((t, mac) => {
    if (out.length >= room) return false;
    out.push([t, mac]);
    return true;
  });
  return out;
}

test("netfront's multicast requests: owed in order, kept while the ring is full, a DEL only for an ADD sent, all re-sent after a reconnect", () => {
  const m = new FrontMcast();
  assert.ok(m.join(1));
  assert.ok(!m.join(1), "joined once");
  assert.ok(m.join(2));
  assert.deepEqual(drain(m, 1), [[ADD, 1]], "ring full after one");
  assert.deepEqual(drain(m), [[ADD, 2]], "the rest later, nothing lost");
  assert.ok(m.join(3));
  assert.ok(m.leave(3));
  assert.deepEqual(drain(m), [], "an ADD never sent needs no DEL");
  assert.ok(m.leave(1));
  assert.deepEqual(drain(m), [[DEL, 1]]);
  m.resend();
  assert.deepEqual(drain(m), [[ADD, 2]], "a new connection gets the whole list");
  for (let i = 0; m.groups.length < FRONT_MCAST_MAX; i++) m.join(100 + i);
  assert.ok(!m.join(99), "bounded as netback's list is");
});
