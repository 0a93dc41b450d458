/**
 * After tsc: each guest program as one file beside its module (x.js → x.bundle.js). A guest
 * is a worker of its own that loads its program from scratch; from ~100 modules that costs
 * ~100 ms of CPU per guest in resolving, opening and compiling, from one file a third of
 * that (bench scale boots 100 guests on two cores). Host.boot runs the bundle when it is
 * at least as new as the module (src/toolstack/guest-bundle.ts), else the module.
 */
import { build } from "esbuild";

export const GUEST_PROGRAMS = ["dist/src/toolstack/guest-program.js", "dist/bench/vif-guest.js"];

await Promise.all(
  GUEST_PROGRAMS.map((entry) =>
    build({
      entryPoints: [entry],
      outfile: entry.replace(/\.js$/, ".bundle.js"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      logLevel: "warning",
    }),
  ),
);
