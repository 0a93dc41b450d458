import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import { guestProgramFile } from "../../src/toolstack/guest-bundle.js";

test("guestProgramFile takes the bundle only when present and at least as new as the module", () => {
  const dir = mkdtempSync(join(tmpdir(), `pvnet-bundle-${process.pid}-`));
  try {
    const make = (name: string, bundleAge: number | null): URL => {
      const file = join(dir, `${name}.js`);
      writeFileSync(file, "export default () => {};\n");
      utimesSync(file, 1_000_000, 1_000_000);
      if (bundleAge !== null) {
        const b = join(dir, `${name}.bundle.js`);
        writeFileSync(b, "export default () => {};\n");
        utimesSync(b, 1_000_000 + bundleAge, 1_000_000 + bundleAge);
      }
      return pathToFileURL(file);
    };
    const fresh = make("fresh", 10);
    assert.equal(guestProgramFile(fresh).href, fresh.href.replace(/\.js$/, ".bundle.js"));
    const stale = make("stale", -10);
    assert.equal(guestProgramFile(stale).href, stale.href);
    const none = make("none", null);
    assert.equal(guestProgramFile(none).href, none.href);
    const notFile = new URL("data:text/javascript,export default () => {}");
    assert.equal(guestProgramFile(notFile).href, notFile.href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
