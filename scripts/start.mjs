/**
 * `npm start`: `pvnet up`, built first only when dist/ is older than the sources, and then
 * saying so: tsc takes tens of seconds on a fresh clone, which a silent wait would hide.
 * Arguments after `npm start --` go to `pvnet up`. The CLI runs in this process, so
 * Ctrl-C reaches it as it does `pvnet up` run directly.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { distStale, ENTRY } from "./dist-stale.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const why = distStale(root);
if (why !== null) {
  process.stderr.write(`npm start: building (tsc), as ${why}…\n`);
  const t0 = performance.now();
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write("npm start: the build failed (the lines above say why)\n");
    process.exit(1);
  }
  process.stderr.write(`npm start: built in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}
process.argv = [process.argv[0], join(root, ENTRY), "up", ...process.argv.slice(2)];
await import(pathToFileURL(join(root, ENTRY)).href);
