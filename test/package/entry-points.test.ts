/**
 * Every entry point the package exports is built, documented by TypeDoc and listed in the
 * README's library table, and each one loads; no entry is offered in one place only.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
  exports: Record<string, string | { types: string; default: string }>;
};
const typedoc = JSON.parse(readFileSync(`${ROOT}typedoc.json`, "utf8")) as { entryPoints: string[] };
const readme = readFileSync(`${ROOT}README.md`, "utf8");
const entries = Object.entries(pkg.exports).filter(([k]) => k !== "./package.json");

test("the four driver entry points are exported", () => {
  for (const name of ["netfront", "netback", "stack", "toolstack"]) assert.ok(pkg.exports[`./${name}`], name);
});

for (const [key, target] of entries) {
  const name = key === "." ? "pvnet" : `pvnet/${key.slice(2)}`;
  test(`${name}: built, in TypeDoc's entry points and the README's table, and it loads`, async () => {
    assert.equal(typeof target, "object");
    const t = target as { types: string; default: string };
    assert.ok(existsSync(`${ROOT}${t.default}`), t.default);
    assert.ok(existsSync(`${ROOT}${t.types}`), t.types);
    const src = t.default.replace(/^\.\/dist\//, "").replace(/\.js$/, ".ts");
    assert.ok(typedoc.entryPoints.includes(src), `${src} in typedoc.json`);
    assert.match(
      readme,
      new RegExp(`^\\| \`${name.replace("/", "\\/")}\` \\|`, "m"),
      "a row of the README's table",
    );
    const mod = (await import(pathToFileURL(`${ROOT}${t.default}`).href)) as Record<string, unknown>;
    assert.ok(Object.keys(mod).length > 0, "exports something");
  });
}
