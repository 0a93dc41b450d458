/**
 * Whether dist/ needs a build: true when the CLI's entry point is missing or older than
 * any file tsc compiles (tsconfig.json's `include`: src, test, bench, examples) or than
 * tsconfig.json itself. tsc rewrites every output, so the entry point's time is the build's.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const SOURCE_DIRS = ["src", "test", "bench", "examples"];
export const ENTRY = "dist/src/cli/main.js";

/** The newest modification time (ms) of a .ts file under `dir`, or 0. */
function newestTs(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTs(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Why `root`'s dist/ is stale ("dist/ is missing", "src/… changed"), or null when current. */
export function distStale(root) {
  const entry = join(root, ENTRY);
  if (!existsSync(entry)) return `${ENTRY} is missing`;
  const built = statSync(entry).mtimeMs;
  const config = join(root, "tsconfig.json");
  if (existsSync(config) && statSync(config).mtimeMs > built)
    return "tsconfig.json changed since the last build";
  for (const d of SOURCE_DIRS)
    if (newestTs(join(root, d)) > built) return `${d}/ changed since the last build`;
  return null;
}
