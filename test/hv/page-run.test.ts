/**
 * PageAllocator.allocRun: a contiguous run of free pages (a passthrough vif's area), never
 * a page already taken, the rest of the allocator unharmed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PageAllocator } from "../../src/hv/memory.js";

test("allocRun: a run of free pages, none taken before, -1 when no run is long enough", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 200 }),
      fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 60 }),
      fc.integer({ min: 1, max: 64 }),
      (nPages, frees, n) => {
        const a = new PageAllocator(64, 1);
        const held = new Set<number>();
        for (let i = 0; i < Math.min(nPages, 63); i++) held.add(a.alloc());
        for (const p of frees)
          if (held.has(p)) {
            a.free(p);
            held.delete(p);
          }
        const before = a.freePages;
        const first = a.allocRun(n);
        if (first < 0) {
          assert.equal(a.freePages, before);
          // No run of n free pages exists.
          for (let s = 1; s + n <= 64; s++) {
            let ok = true;
            for (let q = s; q < s + n; q++) if (held.has(q)) ok = false;
            assert.equal(ok, false, `a run at ${s} was there`);
          }
          return;
        }
        assert.equal(a.freePages, before - n);
        for (let q = first; q < first + n; q++) {
          assert.ok(q >= 1 && q < 64);
          assert.ok(!held.has(q), `page ${q} was taken`);
          held.add(q);
        }
        // Every page still free is handed out once, never one of the run.
        for (let p = a.alloc(); p >= 0; p = a.alloc()) {
          assert.ok(!held.has(p), `page ${p} handed out twice`);
          held.add(p);
        }
        assert.equal(held.size, 63);
      },
    ),
  );
});
