/** `npm start`'s check (scripts/dist-stale.mjs): build only when a source is newer than dist/. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, test } from "node:test";

// From dist/test/scripts/ to the repository's scripts/ (not compiled: it runs before tsc).
const { distStale } = (await import(new URL("../../../scripts/dist-stale.mjs", import.meta.url).href)) as {
  distStale: (root: string) => string | null;
};

const root = mkdtempSync(join(tmpdir(), "pvnet-stale-"));
after(() => rmSync(root, { recursive: true, force: true }));

function file(rel: string, mtimeS: number): void {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, "");
  utimesSync(p, mtimeS, mtimeS);
}

test("dist/ missing, older than a source or tsconfig.json: stale, saying which; newer than all: current", () => {
  file("src/cli/up.ts", 1000);
  file("test/cli/up.test.ts", 1000);
  file("tsconfig.json", 1000);
  assert.equal(distStale(root), "dist/src/cli/main.js is missing");
  file("dist/src/cli/main.js", 2000);
  assert.equal(distStale(root), null);
  file("bench/deep/er/x.ts", 3000);
  assert.equal(distStale(root), "bench/ changed since the last build");
  file("dist/src/cli/main.js", 4000);
  file("src/notes.md", 5000); // not something tsc compiles
  assert.equal(distStale(root), null);
  file("tsconfig.json", 5000);
  assert.equal(distStale(root), "tsconfig.json changed since the last build");
});
