import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PvnetError } from "../../src/base/errors.js";
import { Machine } from "../../src/hv/machine.js";
import { programLoadError, tsxApiOf } from "../../src/hv/program-load.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const TSX_API = pathToFileURL(`${ROOT}node_modules/tsx/dist/esm/api/index.mjs`).href;

test("tsx is found however the process preloaded it; other preloads are not tsx", () => {
  assert.equal(tsxApiOf(["--import", "tsx"], ROOT), TSX_API);
  assert.equal(tsxApiOf(["--import=tsx"], ROOT), TSX_API);
  assert.equal(tsxApiOf(["--loader", "tsx"], ROOT), TSX_API);
  // The tsx command preloads its loader by URL, after a --require of its own.
  const byCommand = [
    "--require",
    `${ROOT}node_modules/tsx/dist/preflight.cjs`,
    "--import",
    pathToFileURL(`${ROOT}node_modules/tsx/dist/loader.mjs`).href,
  ];
  assert.equal(tsxApiOf(byCommand, ROOT), TSX_API);
  assert.equal(tsxApiOf([], ROOT), null);
  assert.equal(tsxApiOf(["--import", "typescript"], ROOT), null, "another package is not tsx");
  assert.equal(
    tsxApiOf(["--import", "./no-such-file.mjs"], ROOT),
    null,
    "an unresolvable preload is skipped",
  );
  assert.equal(tsxApiOf(["--import"], ROOT), null, "a flag without its value");
  assert.equal(tsxApiOf(["--import", "tsx"], "/"), null, "resolved from the process's directory");
});

test("a load failure Node reports becomes one line with a code; anything else is left alone", () => {
  const ext = Object.assign(new TypeError('Unknown file extension ".ts" for /p/x.ts'), {
    code: "ERR_UNKNOWN_FILE_EXTENSION",
  });
  const e = programLoadError(ext, "file:///p/x.ts");
  assert.ok(e instanceof PvnetError);
  assert.equal(e.code, "ENOEXEC");
  assert.match(
    e.message,
    /^domain program file:\/\/\/p\/x\.ts: Node cannot load \.ts files in a worker; .*node --import tsx/,
  );
  assert.doesNotMatch(e.message, /\n/);
  const inner = programLoadError(
    Object.assign(new TypeError('Unknown file extension ".coffee" for /p/y.coffee'), {
      code: "ERR_UNKNOWN_FILE_EXTENSION",
    }),
    "file:///p/x.js",
  );
  assert.match(String(inner?.message), /x\.js \(importing \/p\/y\.coffee\): .*must be a JavaScript module$/);
  const missing = Object.assign(new Error("Cannot find package 'nope'"), { code: "ERR_MODULE_NOT_FOUND" });
  assert.equal(programLoadError(missing, "file:///p/x.js")?.code, "ENOENT");
  assert.equal(programLoadError(new Error("boom"), "file:///p/x.js"), null);
  assert.equal(programLoadError(undefined, "file:///p/x.js"), null);
});

test("a .ts domain program under plain node fails with ENOEXEC and one line, not EBUG", async () => {
  const m = new Machine();
  try {
    const program = new URL(`file://${ROOT}test/hv/programs/evt-peer.ts`);
    await assert.rejects(
      m.createDomain({ name: "dom0", pages: 16, program, args: { role: "back" } }),
      (e) => {
        assert.ok(e instanceof PvnetError, String(e));
        assert.equal(e.code, "ENOEXEC");
        assert.match(e.message, /evt-peer\.ts: Node cannot load \.ts files in a worker/);
        return true;
      },
    );
  } finally {
    await m.shutdown();
  }
});
