/**
 * What an adversary case expects and what a run observed, in Linux's split (xen-protocol.md
 * §7): a packet `dropped` (answered with errors, counted, the vif stays Connected), a
 * `fatal` error (only the offending vif disabled, with a logged reason), or `ignored` (the
 * input had no effect beyond being refused: the vif keeps working).
 */
export type Outcome = "dropped" | "fatal" | "ignored";

export const OUTCOMES: readonly Outcome[] = ["dropped", "fatal", "ignored"];

/** A case as the catalogue lists it, without its code (what `--list` prints). */
export interface CaseInfo {
  readonly name: string;
  /** What the adversary does, in one sentence. */
  readonly does: string;
  /** Where the rule comes from: a section of xen-protocol.md or an XSA. */
  readonly ref: string;
  /** The outcomes a correct peer may show (most cases name one). */
  readonly expect: readonly Outcome[];
}

/** What the adversary saw of one case from its own side. */
export interface CaseObservation {
  readonly outcome: Outcome;
  /** Free text: counts and states that led to the outcome. */
  readonly detail: string;
}

export function expectedText(expect: readonly Outcome[]): string {
  return expect.join("|");
}
