/**
 * readPtKeys: a passthrough frontend's keys read strictly. The number of directory refs
 * follows from the page count, itself held to the slot count; a missing, malformed or
 * repeated key refuses the connection with that key named.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PvnetError } from "../../src/base/errors.js";
import { readPtKeys } from "../../src/netback/pt-keys.js";
import { ptDirKey, ptDirPages, ptLayout } from "../../src/netmap/pt-layout.js";
import type { XsOps } from "../../src/xenstore/client.js";

const DIR = "/local/domain/3/device/vif/0";

function xs(keys: Record<string, string>): XsOps {
  return {
    read: async (path: string) => {
      const k = path.slice(DIR.length + 1);
      if (!Object.hasOwn(keys, k)) throw new PvnetError("ENOENT", `read ${path}`);
      return keys[k]!;
    },
  } as unknown as XsOps;
}

function keysFor(slots: number, first = 100): Record<string, string> {
  const pages = ptLayout(slots).pages;
  const kv: Record<string, string> = {
    "netmap-passthrough-slots": String(slots),
    "netmap-passthrough-pages": String(pages),
  };
  for (let i = 0; i < ptDirPages(pages); i++) kv[ptDirKey(i)] = String(first + i);
  return kv;
}

test("readPtKeys: 512 to 4096 slots, one directory ref per 1024 pages, the first key unnumbered", async () => {
  for (const [slots, n] of [
    [512, 1],
    [1024, 2],
    [2048, 3],
    [4096, 5],
  ] as const) {
    const k = await readPtKeys(xs(keysFor(slots)), DIR);
    assert.equal(k.slots, slots);
    assert.equal(k.pages, ptLayout(slots).pages);
    assert.deepEqual(
      k.dirRefs,
      Array.from({ length: n }, (_, i) => 100 + i),
    );
  }
  assert.equal(ptDirKey(0), "netmap-passthrough-ref");
  assert.equal(ptDirKey(4), "netmap-passthrough-ref4");
});

test("readPtKeys: a missing, malformed or repeated key, or counts that do not match, name the key", async () => {
  const refused = async (kv: Record<string, string>, why: RegExp): Promise<void> => {
    await assert.rejects(readPtKeys(xs(kv), DIR), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, why);
      return true;
    });
  };
  const ok = keysFor(2048);
  const { "netmap-passthrough-ref2": _, ...noRef2 } = ok;
  await refused(noRef2, /netmap-passthrough-ref2/);
  await refused({ ...ok, "netmap-passthrough-ref1": "x1" }, /netmap-passthrough-ref1/);
  await refused(
    { ...ok, "netmap-passthrough-ref2": "100" },
    /ref2 100: the same grant as netmap-passthrough-ref\b/,
  );
  await refused({ ...ok, "netmap-passthrough-slots": "8192" }, /slots 8192: a power of two from 64 to 4096/);
  await refused({ ...ok, "netmap-passthrough-slots": "1000" }, /slots 1000/);
  await refused({ ...ok, "netmap-passthrough-slots": "1024" }, /pages \d+: 1035 expected for 1024 slots/);
  await refused({ ...ok, "netmap-passthrough-pages": "4096" }, /pages 4096/);
  // Refs past the count the pages need are never read, so they do not matter.
  const extra = await readPtKeys(xs({ ...keysFor(1024), "netmap-passthrough-ref2": "bogus" }), DIR);
  assert.equal(extra.dirRefs.length, 2);
});
