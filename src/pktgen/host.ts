/**
 * The in-process host `pvnet pkt-gen` runs its instances in: a netmap context with VALE
 * switches (created on first open) and pipes. Several instances given on one command line
 * (separated by `++`) meet here, as two netmap pkt-gens meet in the kernel.
 */
import { NetmapContext } from "../netmap/context.js";
import { NetmapRegion } from "../netmap/mem.js";
import { pipeRegionSpec } from "../netmap/pipe.js";
import { installVale } from "../vale/install.js";

let nextRegion = 500;

export function pktGenHost(): NetmapContext {
  const ctx = new NetmapContext();
  ctx.pipeRegion = (slots) => new NetmapRegion(nextRegion++, pipeRegionSpec(slots));
  installVale(ctx);
  return ctx;
}

/**
 * Splits `a ++ b ++ c` into instance argument lists. A `++` with no instance on one side
 * (leading, trailing or doubled) is refused rather than dropped: it is a command line cut
 * short, and running the instances before it would hide that.
 */
export function splitInstances(argv: readonly string[]): string[][] | { error: string } {
  if (argv.length === 0) return [];
  const out: string[][] = [[]];
  for (const a of argv) {
    if (a === "++") out.push([]);
    else out[out.length - 1].push(a);
  }
  const empty = out.findIndex((g) => g.length === 0);
  if (empty < 0) return out;
  const where =
    empty === 0 ? "before the first ++" : empty === out.length - 1 ? "after the last ++" : "between two ++";
  return { error: `++: no instance ${where} (expected ++ -i PORT ... between two instances)` };
}
