import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { missingLinks, relativeLinks } from "./md-links.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

test("relative links are found and resolved; web links, anchors and code are not links", () => {
  const md = [
    "See [the docs](docs/a.md#part), [examples](examples/) and [up](../x.md).",
    "[web](https://example.org/a.md) [mail](mailto:a@b) [here](#top)",
    "`[not](a-link.md)` and",
    "```",
    "[nor](this.md)",
    "```",
    '[titled](b.md "Title")',
  ].join("\n");
  assert.deepEqual(relativeLinks(md, ""), ["docs/a.md", "examples/", "../x.md", "b.md"]);
  assert.deepEqual(relativeLinks("[c](../README.md) [d](./e.md)", "docs"), ["README.md", "docs/e.md"]);
});

test("a link is missing unless the file, or a file under the folder, is in the list; leaving the package is missing", () => {
  const files = new Set(["README.md", "docs/a.md", "examples/x.ts"]);
  assert.deepEqual(missingLinks(["docs/a.md", "examples/", "docs/b.md", "src/", "../x.md"], files), [
    "docs/b.md",
    "src/",
    "../x.md",
  ]);
});

test("every relative link in README.md and docs/ points to a file of the repository", () => {
  const files = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(`${ROOT}${dir}`, { withFileTypes: true }))
      if (e.isDirectory()) walk(`${dir}${e.name}/`);
      else files.add(`${dir}${e.name}`);
  };
  walk("docs/");
  walk("examples/");
  files.add("README.md");
  files.add("LICENSE");
  const links = relativeLinks(readFileSync(`${ROOT}README.md`, "utf8"), "");
  for (const f of readdirSync(`${ROOT}docs`).filter((n) => n.endsWith(".md")))
    links.push(...relativeLinks(readFileSync(`${ROOT}docs/${f}`, "utf8"), "docs"));
  assert.deepEqual(missingLinks(links, files), []);
});

test("no doc names a path outside the repository, even as code", () => {
  for (const f of readdirSync(`${ROOT}docs`).filter((n) => n.endsWith(".md"))) {
    const md = readFileSync(`${ROOT}docs/${f}`, "utf8");
    assert.doesNotMatch(
      md,
      /(^|[\s(`'"])\.\.\/\.\.\/|(^|[\s(`'"])\.\.\/(?!README\.md|LICENSE|examples\/|docs\/)/m,
      `docs/${f}`,
    );
  }
});
