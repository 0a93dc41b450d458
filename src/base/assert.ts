/**
 * Internal invariants. A failed assert is a bug in pvnet, never a reaction to peer input:
 * untrusted input is answered with protocol statuses (see errors.ts), not exceptions.
 */
export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError(message);
}
