/**
 * Log text for a numeric reason code. Datapath verdicts carry a reason number and two
 * numbers (`a`, `b`) instead of a string, so a bad packet allocates nothing until someone
 * asks for the words; the table's templates name the numbers `a` and `b`.
 */
export function reasonText(table: readonly string[], reason: number, a: number, b: number): string {
  return (table[reason] ?? `reason ${reason}`).replace(/\ba\b/, String(a)).replace(/\bb\b/, String(b));
}
