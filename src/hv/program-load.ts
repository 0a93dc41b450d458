/**
 * Loading a domain's program in its worker. Node runs module customisation hooks (the
 * loaders TypeScript runners register with `--import`) where they were registered, and
 * tsx on Node 20 registers itself on the main thread only: a worker inherits the
 * `--import tsx` flag but not the hooks, so a `.ts` program that ran fine as the main
 * module cannot be imported by its domain. When the process was started with tsx, the
 * worker registers tsx's API itself before importing a TypeScript program; when nothing
 * can load the file, the failure is one line that says what to do, not a bug with a
 * stack trace.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PvnetError } from "../base/errors.js";

/** A TypeScript module, by extension. */
const TS_PROGRAM = /\.[cm]?tsx?$/;

/** The flags that name a module loaded before the main one. */
const PRELOAD_FLAGS = ["--import", "--loader", "--experimental-loader"];

/** The specifiers of every preload in `execArgv` (`--import x` and `--import=x` alike). */
function preloads(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    for (const f of PRELOAD_FLAGS) {
      if (a === f && i + 1 < execArgv.length) out.push(execArgv[++i]!);
      else if (a.startsWith(`${f}=`)) out.push(a.slice(f.length + 1));
    }
  }
  return out;
}

/**
 * The file: URL of tsx's ESM registration API when one of the process's preloads is tsx
 * (`node --import tsx`, or the `tsx` command, which preloads its loader by URL); null
 * otherwise. Specifiers resolve from `cwd`, as Node resolves `--import`.
 */
export function tsxApiOf(execArgv: readonly string[], cwd: string): string | null {
  const req = createRequire(join(cwd, "noop.js"));
  for (const spec of preloads(execArgv)) {
    let file: string;
    try {
      file = spec.startsWith("file:") ? fileURLToPath(spec) : req.resolve(spec);
    } catch {
      continue;
    }
    const api = tsxApiNear(file);
    if (api !== null) return api;
  }
  return null;
}

/** Walks up from a file of a package to its package.json; tsx's gives the API's path. */
function tsxApiNear(file: string): string | null {
  for (let dir = dirname(file), up = 0; up < 8; dir = dirname(dir), up++) {
    let pkg: { name?: unknown; exports?: Record<string, unknown> };
    try {
      pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as typeof pkg;
    } catch {
      if (dirname(dir) === dir) return null;
      continue;
    }
    if (pkg.name !== "tsx") return null;
    const api = (pkg.exports?.["./esm/api"] as { import?: { default?: unknown } } | undefined)?.import
      ?.default;
    return typeof api === "string" ? pathToFileURL(join(dir, api)).href : null;
  }
  return null;
}

/**
 * Registers tsx's hooks in this worker when the process runs under tsx and the program is
 * TypeScript (a JavaScript program that imports TypeScript gets ENOEXEC). Newer tsx on newer
 * Node registers itself in workers too; a second registration only adds a layer that finds
 * JavaScript to pass through (checked on Node 20 by registering twice).
 */
export async function inheritLoader(
  program: string,
  execArgv: readonly string[],
  cwd: string,
): Promise<void> {
  // Only for a TypeScript program: loading tsx costs a worker about half a second, which
  // a JavaScript program (pvnet's own, run under tsx) would pay for nothing.
  if (!TS_PROGRAM.test(new URL(program).pathname)) return;
  const api = tsxApiOf(execArgv, cwd);
  if (api === null) return;
  const mod = (await import(api)) as { register?: () => unknown };
  mod.register?.();
}

/**
 * The one-line error for a program Node could not load, or null when `e` is something
 * else: a file type Node has no loader for (`.ts` under plain node), or a missing import.
 */
export function programLoadError(e: unknown, program: string, what = "domain program"): PvnetError | null {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === "ERR_UNKNOWN_FILE_EXTENSION") {
    const m = /Unknown file extension "([^"]*)" for (.*)$/.exec((e as Error).message);
    const ext = m?.[1] ?? "this";
    const importing = m === null || m[2] === fileURLToPathSafe(program) ? "" : ` (importing ${m[2]})`;
    const ts = TS_PROGRAM.test(ext);
    return new PvnetError(
      "ENOEXEC",
      ts
        ? `${what} ${program}${importing}: Node cannot load ${ext} files in a worker; build it to JavaScript, or start the main program under tsx (node --import tsx), whose loader a domain registers when its program is TypeScript`
        : `${what} ${program}${importing}: Node cannot load ${ext} files; a ${what} must be a JavaScript module`,
    );
  }
  if (code === "ERR_MODULE_NOT_FOUND")
    return new PvnetError(
      "ENOENT",
      `${what[0]!.toUpperCase()}${what.slice(1)} cannot load: ${(e as Error).message}`,
    );
  return null;
}

function fileURLToPathSafe(url: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    return url;
  }
}
