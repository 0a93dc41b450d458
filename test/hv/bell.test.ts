/**
 * The doorbell the machine rings after each message it posts to a block-mode domain
 * (bell.ts): the mail flag, then a bump and notify of the word the domain sleeps on (its one
 * link's side, or the bell's own), following the links as they change, and nothing
 * allocated per message.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BELL_BYTES, BELL_MAIL, BELL_WAKE, createBell, DomainBell } from "../../src/hv/bell.js";
import { createLink, SIDE_WAKE, sideBase } from "../../src/hv/evtchn.js";
import { countGcs } from "../wire/net/fixtures.js";

function wakes(link: SharedArrayBuffer, domid: number, peer: number): number {
  return Atomics.load(new Int32Array(link), sideBase(domid, peer) + SIDE_WAKE);
}

test("the bell wakes the side of the domain's one link, the bell's own word otherwise, and follows link changes", () => {
  const sab = createBell();
  assert.equal(sab.byteLength, BELL_BYTES);
  const bell = new Int32Array(sab);
  const d = new DomainBell(sab, 3);
  const links = new Map<number, SharedArrayBuffer>();
  d.ring(links);
  assert.equal(Atomics.exchange(bell, BELL_MAIL, 0), 1, "mail flagged");
  assert.equal(bell[BELL_WAKE], 1, "no link: the bell's own word");
  const a = createLink();
  links.set(0, a);
  d.ring(links);
  d.ring(links);
  assert.equal(wakes(a, 3, 0), 2, "one link: its side (the guest's, above Domain-0's)");
  assert.equal(wakes(a, 0, 3), 0, "never the peer's side");
  assert.equal(bell[BELL_MAIL], 1);
  // The link is replaced (the domain relinked): the new one is rung, not the old.
  const b = createLink();
  links.set(0, b);
  d.ring(links);
  assert.equal(wakes(b, 3, 0), 1);
  assert.equal(wakes(a, 3, 0), 2);
  // Another peer instead: its side is found afresh (domid 3 sits below peer 5).
  links.clear();
  links.set(5, a);
  d.ring(links);
  assert.equal(wakes(a, 3, 5), 1);
  // Two links: only the bell's own word can wake it.
  const own = bell[BELL_WAKE];
  links.set(0, b);
  d.ring(links);
  assert.equal(bell[BELL_WAKE], own + 1);
  assert.equal(wakes(b, 3, 0), 1);
});

test("ringing the bell of a domain with one link allocates nothing per message", async () => {
  const d = new DomainBell(createBell(), 1);
  const link = createLink();
  const links = new Map([[0, link]]);
  const gcs = await countGcs(() => d.ring(links), 300_000);
  assert.equal(gcs, 0);
  assert.ok(wakes(link, 1, 0) >= 300_000);
});
