import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { StagingTable } from "../../src/netback/staging.js";
import { privateMem } from "../../src/wire/mem.js";

const MEM = privateMem(8);

test("staging table: add, find, remove and clear agree with a Map, small refs and large", () => {
  const ref = fc.oneof(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 0xffffffff }));
  const op = fc.record({ add: fc.boolean(), gref: ref });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), fc.boolean(), (ops, clearAtEnd) => {
      const t = new StagingTable(64);
      const model = new Map<number, number>();
      let handle = 0;
      for (const o of ops) {
        if (o.add) {
          if (model.has(o.gref) || model.size === t.max) continue;
          t.add(o.gref, handle, MEM, 0, true);
          model.set(o.gref, handle++);
        } else {
          assert.equal(t.remove(o.gref), model.get(o.gref) ?? -1);
          model.delete(o.gref);
        }
        assert.equal(t.size, model.size);
      }
      for (const [g, h] of model) {
        const s = t.find(g);
        assert.ok(s >= 0);
        assert.equal(t.handle[s], h);
      }
      if (clearAtEnd) {
        assert.deepEqual(
          t.clear().sort((a, b) => a - b),
          [...model.values()].sort((a, b) => a - b),
        );
        assert.equal(t.size, 0);
        for (const g of model.keys()) assert.equal(t.find(g), -1);
      }
    }),
  );
});

test("staging table: a gref that is not a u32 (an int32 read of one at or above 2^31) is refused, never kept", () => {
  const t = new StagingTable(4);
  for (const bad of [-1, -0x80000000, 2 ** 32, 1.5, Number.NaN])
    assert.throws(() => t.add(bad, 0, MEM, 0, true), RangeError, String(bad));
  assert.equal(t.size, 0);
  t.add(0x80000000, 7, MEM, 0, true);
  t.add(0xffffffff, 8, MEM, 0, true);
  assert.equal(t.handle[t.find(0x80000000)], 7);
  assert.equal(t.find(0x80000000 | 0), -1, "the int32 reading finds nothing");
  assert.equal(t.remove(0xffffffff), 8);
  assert.deepEqual(t.clear(), [7]);
});
