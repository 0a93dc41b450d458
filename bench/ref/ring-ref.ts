/**
 * Runs bench/ref/ring.c, the C pthread version of pvnet's ring: the ceiling `pvnet bench ring`
 * prints beside pvnet's own numbers. The source is compiled once per process (and cached across
 * processes by the hash of its text); without a C compiler the row is a visible skip.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type BenchRow, gbpsOf, median, skippedRow } from "../result.js";

const execFileP = promisify(execFile);

export interface RefRingOptions {
  /** `notify`: futex wake-ups with Xen event suppression; `spin`: busy-poll, never sleep. */
  mode: "notify" | "spin";
  frameBytes: number;
  /** Requests (and responses) per index publish. */
  batch: number;
  warmupMs: number;
  measureMs: number;
  /** Fresh processes to run; the row reports the median. */
  runs: number;
}

/** What one `ring-ref` process prints. */
interface RefRun {
  mpps: number;
  frames: number;
  seconds: number;
  seqErrors: number;
  rspErrors: number;
}

const CC_FLAGS = ["-O2", "-march=native", "-pthread", "-Wall", "-Wextra"];

/** Either the path of a built binary or why there is none. */
type Build = { binPath: string } | { skipReason: string };

let buildOnce: Promise<Build> | undefined;

/**
 * Measures the C ring `opts.runs` times and returns the median as "C ring notify" / "C ring spin",
 * or a skipped row with the reason when it cannot be built here.
 */
export async function runRefRing(opts: RefRingOptions): Promise<BenchRow> {
  const name = `C ring ${opts.mode}`;
  if (!Number.isInteger(opts.runs) || opts.runs < 1) {
    throw new RangeError(`Runs must be a positive integer, got ${opts.runs}`);
  }
  buildOnce ??= buildRefRing();
  const build = await buildOnce;
  if ("skipReason" in build) return skippedRow(name, opts.frameBytes, opts.batch, build.skipReason);
  const results: RefRun[] = [];
  for (let i = 0; i < opts.runs; i++) results.push(await runOnce(build.binPath, opts));
  const mpps = median(results.map((r) => r.mpps));
  return {
    name,
    frameBytes: opts.frameBytes,
    batch: opts.batch,
    mpps,
    gbps: gbpsOf(mpps, opts.frameBytes),
    seqErrors: results.reduce((sum, r) => sum + r.seqErrors, 0),
  };
}

async function runOnce(binPath: string, opts: RefRingOptions): Promise<RefRun> {
  const args = [opts.mode, opts.frameBytes, opts.batch, opts.warmupMs, opts.measureMs].map(String);
  // Generous: the process only sleeps through warm-up and measurement, then joins its threads.
  const timeout = opts.warmupMs + opts.measureMs + 30_000;
  const { stdout } = await execFileP(binPath, args, { timeout });
  const run = JSON.parse(stdout.trim()) as RefRun;
  if (!(run.mpps > 0) || !Number.isFinite(run.mpps)) {
    throw new Error(`C ring produced no frames: ${stdout.trim()}`);
  }
  // Bad responses mean the reference itself is broken; a number from it would mislead.
  if (run.rspErrors !== 0) throw new Error(`C ring answered ${run.rspErrors} requests with errors`);
  return run;
}

/** Compiles ring.c into os.tmpdir()/pvnet-bench/ring-ref-<hash>, reusing an earlier build. */
async function buildRefRing(): Promise<Build> {
  const srcPath = join(packageRoot(), "bench", "ref", "ring.c");
  let src: string;
  try {
    src = await readFile(srcPath, "utf8");
  } catch (err) {
    return { skipReason: `Cannot read ${srcPath}: ${(err as Error).message}` };
  }
  const hash = createHash("sha256").update(CC_FLAGS.join(" ")).update(src).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "pvnet-bench", `ring-ref-${hash}`);
  const binPath = join(dir, "ring-ref");
  if (existsSync(binPath)) return { binPath };
  await mkdir(dir, { recursive: true });
  // Build beside the target and rename, so a concurrent process never runs a half-written file.
  const tmpPath = `${binPath}.${process.pid}.tmp`;
  try {
    await execFileP("cc", [...CC_FLAGS, "-o", tmpPath, srcPath], { timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") return { skipReason: "No C compiler: cc is not on PATH" };
    const firstLine = (e.stderr ?? e.message).trim().split("\n")[0];
    return { skipReason: `Cannot build ring.c: ${firstLine}` };
  }
  await rename(tmpPath, binPath);
  return { binPath };
}

/** The directory holding package.json above this file, whether run from bench/ or dist/bench/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}
