/**
 * After tsc: each guest program as one file beside its module (x.js → x.bundle.js). A guest
 * is a worker of its own that loads its program from scratch; from ~100 modules that costs
 * ~100 ms of CPU per guest in resolving, opening and compiling, from one file a third of
 * that (bench scale boots 100 guests on two cores). Host.boot runs the bundle when it is
 * at least as new as the module (src/toolstack/guest-bundle.ts), else the module.
 *
 * The modules the domain worker itself loads stay outside the bundle, imported from dist/:
 * they are loaded already (no cost), and the program must share them with the Domain it is
 * handed (one PvnetError class for `instanceof`, one copy of any module state).
 */
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { build } from "esbuild";

export const GUEST_PROGRAMS = ["dist/src/toolstack/guest-program.js", "dist/bench/vif-guest.js"];
const WORKER = "dist/src/hv/domain-worker.js";

/** Every module `entry` loads through static relative imports, by absolute path. */
function moduleGraph(entry, seen = new Set()) {
  const file = resolve(entry);
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.[^"]+)"/gm))
    moduleGraph(resolve(dirname(file), m[1]), seen);
  for (const m of text.matchAll(/^\s*import\s*"(\.[^"]+)"/gm))
    moduleGraph(resolve(dirname(file), m[1]), seen);
  return seen;
}

const shared = moduleGraph(WORKER);

await Promise.all(
  GUEST_PROGRAMS.map((entry) => {
    const outfile = entry.replace(/\.js$/, ".bundle.js");
    return build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "warning",
      plugins: [
        {
          name: "worker-modules",
          setup(b) {
            b.onResolve({ filter: /^\./ }, (args) => {
              const file = resolve(args.resolveDir, args.path);
              if (!shared.has(file)) return undefined;
              const rel = relative(dirname(resolve(outfile)), file);
              return { path: rel.startsWith(".") ? rel : `./${rel}`, external: true };
            });
          },
        },
      ],
    });
  }),
);
