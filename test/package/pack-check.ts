/**
 * The package as a user gets it: `npm pack`, install the tarball into a scratch project
 * (offline from the npm cache: `npm ci` filled it), then run the CLI, typecheck and run
 * every program in examples/ (the README's library example among them) from there, so
 * each import goes through the tarball's `exports` and its `types`. Installing from the
 * folder would hide a file missing from `files` (npm links the folder).
 *
 * Run by .ci/run after `npm test` (`npm run pack-check` builds first, so the pack skips
 * the prepack build). Its last line is
 * `pack-check: ok (N checks)` or `pack-check: FAILED (...)`, and the exit code says the same.
 */
import { execFileSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { EXAMPLES, README_EXAMPLE, runNode } from "../examples/cases.js";
import { missingLinks, relativeLinks } from "./md-links.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "pvnet-pack-"));
let checks = 0;
let last = performance.now();
const failures: string[] = [];

function check(what: string, ok: boolean, detail = ""): void {
  checks++;
  const now = performance.now();
  console.log(`${ok ? "ok  " : "FAIL"} ${what} (${((now - last) / 1000).toFixed(1)} s)`);
  last = now;
  if (!ok) {
    failures.push(what);
    if (detail !== "") console.log(detail.replace(/^/gm, "     "));
  }
}

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

async function main(): Promise<void> {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const packed = JSON.parse(
    sh(npm, ["pack", "--json", "--ignore-scripts", "--pack-destination", scratch], ROOT),
  ) as {
    filename: string;
    files: { path: string }[];
  }[];
  const files = new Set(packed[0].files.map((f) => f.path));
  check("the tarball has LICENSE", files.has("LICENSE"));
  check("the tarball has the C reference ring", files.has("bench/ref/ring.c"));
  check(
    "the tarball has the batched UDP addon's source, and no build of it",
    files.has("native/udp.c") &&
      files.has("native/binding.gyp") &&
      ![...files].some((f) => f.endsWith(".node")),
  );
  check(
    "the tarball has the web view's page",
    ["index.html", "app.js", "app.css"].every((f) => files.has(`web/${f}`)),
  );
  check(
    "the tarball has no tests and no source maps",
    ![...files].some((f) => /^dist\/test\/|\.map$/.test(f)),
  );
  // Everything the README and the docs link to is in the package a user reads them from.
  const links = relativeLinks(readFileSync(join(ROOT, "README.md"), "utf8"), "");
  for (const f of [...files].filter((p) => /^docs\/[^/]+\.md$/.test(p)))
    links.push(...relativeLinks(readFileSync(join(ROOT, f), "utf8"), posix.dirname(f)));
  const missing = missingLinks(links, files);
  check(
    `the tarball holds every file the README and docs/ link to (${links.length} links)`,
    links.length > 0 && missing.length === 0,
    `missing: ${missing.join(", ")}`,
  );
  for (const entry of ["netfront", "netback", "stack", "toolstack"])
    check(
      `the tarball has the pvnet/${entry} entry point`,
      files.has(`dist/src/${entry}/index.js`) && files.has(`dist/src/${entry}/index.d.ts`),
    );

  const app = join(scratch, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  sh(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", join(scratch, packed[0].filename)], app);
  const pvnet = join(app, "node_modules", "pvnet");
  check("npm installed the tarball (a copy, not a link)", existsSync(join(pvnet, "package.json")));
  // The install script builds it with node-gyp (a C compiler and Node's headers are needed:
  // without them the install still succeeds, and VXLAN uplinks use node:dgram).
  check(
    "the install built the batched UDP addon",
    existsSync(join(pvnet, "native", "build", "Release", "pvnet_udp.node")),
  );

  const bin = join(app, "node_modules", ".bin", "pvnet");
  const cli = async (args: string[], timeoutMs: number) => {
    const r = await runNode(bin, app, timeoutMs, args);
    return { ...r, ok: r.code === 0 && r.signal === null };
  };
  const help = await cli(["--help"], 10_000);
  check("pvnet --help", help.ok && /Usage: pvnet/.test(help.out), help.out + help.err);
  const demo = await cli(["demo", "--for", "1", "--json"], 20_000);
  check("pvnet demo --for 1 --json", demo.ok && /"domains":/.test(demo.out), demo.out + demo.err);
  const bench = await cli(["bench", "xenstore", "--quick", "--json"], 30_000);
  check(
    "pvnet bench xenstore --quick --json",
    bench.ok && /"results":\[\{/.test(bench.out),
    bench.out + bench.err,
  );

  // The examples' sources, typechecked against the installed package's declarations, and
  // their build, run from the scratch project (so "pvnet/..." resolves into node_modules).
  const ex = join(app, "examples");
  mkdirSync(ex);
  for (const f of readdirSync(join(ROOT, "examples"))) copyFileSync(join(ROOT, "examples", f), join(ex, f));
  for (const f of readdirSync(join(ROOT, "dist", "examples")))
    if (f.endsWith(".js")) copyFileSync(join(ROOT, "dist", "examples", f), join(ex, f));
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2023", "ES2024.SharedMemory"],
        strict: true,
        noEmit: true,
        typeRoots: [join(ROOT, "node_modules", "@types")],
        types: ["node"],
      },
      include: ["examples/*.ts"],
    }),
  );
  let tscOut = "";
  try {
    sh(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "."], app);
  } catch (e) {
    tscOut = String((e as { stdout?: string }).stdout ?? e);
  }
  check("examples typecheck against the installed package's types", tscOut === "", tscOut);
  for (const c of EXAMPLES) {
    const r = await runNode(join(ex, `${c.name}.js`), app, 20_000);
    const ok = r.code === 0 && r.signal === null && c.expect.every((re) => re.test(r.out));
    check(`examples/${c.name} from the installed package`, ok, r.out + r.err);
  }
  // The README's example from the package's own TypeScript source, as a tsx user runs it
  // (tsx is not installed in the scratch project: the repository's is preloaded by path).
  const tsx = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
  const ts = await runNode(
    join(pvnet, "examples", `${README_EXAMPLE}.ts`),
    app,
    30_000,
    [],
    ["--import", tsx],
  );
  const tsExpect = EXAMPLES.find((c) => c.name === README_EXAMPLE)?.expect ?? [];
  check(
    `examples/${README_EXAMPLE}.ts from the package under tsx (node --import tsx)`,
    ts.code === 0 && ts.signal === null && tsExpect.every((re) => re.test(ts.out)),
    ts.out + ts.err,
  );
}

const t0 = performance.now();
try {
  await main();
} catch (e) {
  const err = e as { message?: string; stderr?: string };
  check("pack and install", false, `${err.message ?? e}\n${err.stderr ?? ""}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const s = ((performance.now() - t0) / 1000).toFixed(1);
if (failures.length === 0) console.log(`pack-check: ok (${checks} checks, ${s} s)`);
else console.log(`pack-check: FAILED (${failures.length} of ${checks} checks: ${failures.join("; ")})`);
process.exitCode = failures.length === 0 ? 0 : 1;
