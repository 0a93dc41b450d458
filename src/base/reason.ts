/**
 * Verdicts with reasons, for the datapath. A bad packet's verdict carries a reason number
 * and two numbers (`a`, `b`) instead of a string, so nothing is allocated until someone
 * asks for the words; a table of templates naming the numbers `a` and `b` gives them.
 */
export function reasonText(table: readonly string[], reason: number, a: number, b: number): string {
  return (table[reason] ?? `reason ${reason}`).replace(/\ba\b/, String(a)).replace(/\bb\b/, String(b));
}

/** A reused verdict: 0 (ok) or a failure with its reason; subclasses add the packet's shape. */
export class Verdict<V extends number, R extends number> {
  verdict = 0 as V;
  reason = 0 as R;
  reasonA = 0;
  reasonB = 0;
  readonly #table: readonly string[];

  constructor(table: readonly string[]) {
    this.#table = table;
  }

  /** Back to ok, for the next packet. */
  protected clear(): void {
    this.verdict = 0 as V;
    this.reason = 0 as R;
    this.reasonA = this.reasonB = 0;
  }

  /** Records a failure and returns its verdict. */
  fail(verdict: V, reason: R, a: number, b: number): V {
    this.verdict = verdict;
    this.reason = reason;
    this.reasonA = a;
    this.reasonB = b;
    return verdict;
  }

  /** The reason as a log line. */
  describe(): string {
    return reasonText(this.#table, this.reason, this.reasonA, this.reasonB);
  }
}
