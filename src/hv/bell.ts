/**
 * A domain's doorbell: a few words only the machine and that domain hold. A domain whose
 * loop sleeps in Atomics.wait (`block` mode) does not see its worker's messages until it
 * yields to the Node event loop, so the machine, after posting one, raises BELL_MAIL and
 * wakes the word the loop sleeps on: the side of its one link, or BELL_WAKE while it has
 * none. The loop clears BELL_MAIL and takes one turn of the Node loop.
 */
import { SIDE_WAKE, sideBase } from "./evtchn.js";

/** Int32 index: bumped (and notified) to wake a domain that has no link yet. */
export const BELL_WAKE = 0;
/** Int32 index: non-zero when the machine posted a message since the loop last looked. */
export const BELL_MAIL = 1;
export const BELL_BYTES = 64;

export function createBell(): SharedArrayBuffer {
  return new SharedArrayBuffer(BELL_BYTES);
}

/**
 * Rings a domain's bell after a message was posted to it: the mail flag first, then a bump
 * of each word its loop may sleep on (the bell's own, and the side of its one link if it
 * has one: `w` and `base` as OwnSide has them).
 */
export function ringBell(bell: Int32Array, side?: { readonly w: Int32Array; readonly base: number }): void {
  Atomics.store(bell, BELL_MAIL, 1);
  Atomics.add(bell, BELL_WAKE, 1);
  Atomics.notify(bell, BELL_WAKE);
  if (side === undefined) return;
  Atomics.add(side.w, side.base + SIDE_WAKE, 1);
  Atomics.notify(side.w, side.base + SIDE_WAKE);
}

/**
 * Rings one block-mode domain's bell after each message the machine posts to it: the word
 * its loop sleeps on is its one link's side while it has exactly one link, else the bell's
 * own. The view of that side is made once per link, not per message.
 */
export class DomainBell {
  readonly #bell: Int32Array;
  readonly #domid: number;
  /** The link the side below was made for (null: none yet), and its peer. */
  #link: SharedArrayBuffer | null = null;
  #peer = -1;
  readonly #side: { w: Int32Array; base: number } = { w: new Int32Array(0), base: 0 };

  constructor(bell: SharedArrayBuffer, domid: number) {
    this.#bell = new Int32Array(bell);
    this.#domid = domid;
  }

  /** Rings after a message was posted; `links` are the domain's links by peer, as they are now. */
  ring(links: ReadonlyMap<number, SharedArrayBuffer>): void {
    if (links.size !== 1) {
      ringBell(this.#bell);
      return;
    }
    // Links change rarely (a domain linked, relinked or gone): look the one link up afresh
    // only when the remembered one is no longer it.
    if (this.#link === null || links.get(this.#peer) !== this.#link) {
      for (const [peer, link] of links) {
        this.#link = link;
        this.#peer = peer;
        this.#side.w = new Int32Array(link);
        this.#side.base = sideBase(this.#domid, peer);
      }
    }
    ringBell(this.#bell, this.#side);
  }
}
