import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PendingPool } from "../../src/netback/pending.js";

test("the pool hands out at most its size, then refuses until something is released", () => {
  const p = new PendingPool(4);
  const got = [0, 1, 2, 3].map((k) => p.alloc(k, 100 + k, 0));
  assert.deepEqual([...got].sort(), [0, 1, 2, 3]);
  assert.equal(p.alloc(9, 9, 0), -1);
  assert.equal(p.free, 0);
  assert.ok(p.release(got[2]));
  assert.equal(p.release(got[2]), false, "a second release changes nothing");
  assert.equal(p.alloc(7, 107, 1), got[2]);
  assert.deepEqual([p.reqId[got[2]], p.gref[got[2]], p.extras[got[2]], p.handle[got[2]]], [7, 107, 1, -1]);
});

test("a token outlives its entry: stale once released, stale after reuse", () => {
  const p = new PendingPool(2);
  const i = p.alloc(1, 1, 0);
  const t = p.token(i);
  assert.ok(p.live(t));
  p.release(i);
  assert.equal(p.live(t), false);
  const j = p.alloc(2, 2, 0);
  assert.equal(j, i, "the slot is reused");
  assert.equal(p.live(t), false, "the old token does not name the new holder");
  assert.ok(p.live(p.token(j)));
});

test("any sequence of allocs and releases matches a set model and never exceeds the size", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.array(fc.oneof(fc.constant(-1), fc.integer({ min: -5, max: 70 })), { maxLength: 400 }),
      (size, ops) => {
        const p = new PendingPool(size);
        const held = new Set<number>();
        for (const op of ops) {
          if (op === -1) {
            const i = p.alloc(1, 2, 0);
            if (held.size === size) assert.equal(i, -1);
            else {
              assert.ok(i >= 0 && i < size && !held.has(i), `alloc gave ${i}`);
              held.add(i);
            }
          } else {
            assert.equal(p.release(op), held.delete(op));
          }
          assert.equal(p.held, held.size);
        }
        const seen: number[] = [];
        p.forEachHeld((i) => seen.push(i));
        assert.deepEqual(
          seen,
          [...held].sort((a, b) => a - b),
        );
      },
    ),
  );
});
