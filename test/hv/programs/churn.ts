/** Test program: spins `ms` milliseconds allocating short-lived arrays (young garbage). */
import type { Domain } from "../../../src/hv/domain.js";

export default function main(_dom: Domain, args: unknown): void {
  const { ms } = args as { ms: number };
  let keep = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) keep += new Array(64).fill(keep & 1).length;
  if (keep < 0) throw new Error("unreachable");
}
