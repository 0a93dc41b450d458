/**
 * Which file a guest worker loads for a program: its one-file bundle (x.bundle.js, made
 * by scripts/bundle-guests.mjs after tsc) when present and at least as new as the module,
 * since a worker loading ~100 modules spends most of its start-up resolving and compiling
 * them; else the module itself (a tsc-only build, a program of the user's).
 */
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const chosen = new Map<string, URL>();

export function guestProgramFile(program: URL): URL {
  const known = chosen.get(program.href);
  if (known !== undefined) return known;
  let file = program;
  if (program.protocol === "file:" && program.pathname.endsWith(".js")) {
    const bundle = new URL(program.href.replace(/\.js$/, ".bundle.js"));
    const mtime = (u: URL): number => statSync(fileURLToPath(u), { throwIfNoEntry: false })?.mtimeMs ?? -1;
    const b = mtime(bundle);
    if (b >= 0 && b >= mtime(program)) file = bundle;
  }
  chosen.set(program.href, file);
  return file;
}
