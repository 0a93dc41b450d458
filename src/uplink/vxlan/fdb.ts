/**
 * The uplink's forwarding database (Linux vxlan's fdb): inner source MAC -> the remote it
 * came from, learnt from every accepted datagram and aged out when not seen for
 * `ageingMs`. Direct-mapped like VALE's learning table (a newer address takes an older
 * one's bucket) and keyed by the MAC's two halves, so a lookup allocates nothing. Remotes
 * are indices into the uplink's remote list.
 */
import { LearnTable } from "../../vale/learn.js";

export const FDB_BUCKETS = 4096;
export const FDB_NONE = -1;

export class VxlanFdb {
  readonly ageingMs: number;
  readonly #lo = new Uint32Array(FDB_BUCKETS);
  readonly #hi = new Int32Array(FDB_BUCKETS).fill(-1);
  readonly #remote = new Int32Array(FDB_BUCKETS);
  readonly #seen = new Float64Array(FDB_BUCKETS);
  #size = 0;

  constructor(ageingMs: number) {
    this.ageingMs = ageingMs;
  }

  /** Entries held now. */
  get size(): number {
    return this.#size;
  }

  learn(hi16: number, lo32: number, remote: number, nowMs: number): void {
    const b = LearnTable.bucket(hi16, lo32);
    if (this.#hi[b] < 0) this.#size++;
    this.#lo[b] = lo32;
    this.#hi[b] = hi16;
    this.#remote[b] = remote;
    this.#seen[b] = nowMs;
  }

  /** The remote `hi16:lo32` was learnt on and not aged out, or FDB_NONE. */
  lookup(hi16: number, lo32: number, nowMs: number): number {
    const b = LearnTable.bucket(hi16, lo32);
    if (this.#hi[b] !== hi16 || this.#lo[b] !== lo32) return FDB_NONE;
    return nowMs - this.#seen[b] > this.ageingMs ? FDB_NONE : this.#remote[b];
  }

  /** Drops entries not seen for ageingMs (the timer's job); returns how many went. */
  age(nowMs: number): number {
    let gone = 0;
    for (let b = 0; b < FDB_BUCKETS; b++)
      if (this.#hi[b] >= 0 && nowMs - this.#seen[b] > this.ageingMs) {
        this.#hi[b] = -1;
        gone++;
      }
    this.#size -= gone;
    return gone;
  }

  /** Learnt entries as `{mac, remote}`, for status (not a hot path). */
  entries(): { mac: string; remote: number }[] {
    const out: { mac: string; remote: number }[] = [];
    for (let b = 0; b < FDB_BUCKETS; b++) {
      const hi = this.#hi[b];
      if (hi < 0) continue;
      const lo = this.#lo[b];
      const bytes = [hi >>> 8, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
      out.push({ mac: bytes.map((x) => x.toString(16).padStart(2, "0")).join(":"), remote: this.#remote[b] });
    }
    return out;
  }
}
