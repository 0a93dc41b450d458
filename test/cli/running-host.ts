/**
 * `pvnet up` as a user runs it for the control-socket tests: its own process in a run
 * directory of the test's own (PVNET_RUNDIR), and each command as another process.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `pvnet ARGS` to its end. */
export function pvnetRun(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env, timeout: 60_000 }, (err, out, errOut) =>
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, out, err: errOut }),
    );
  });
}

export async function until(what: string, ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A `pvnet up` in a run directory of its own. */
export class UpProcess {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  /** The control socket's default path in that run directory. */
  readonly sock: string;
  #proc: ChildProcess | null = null;
  #out = "";
  #done: Promise<number | null> = Promise.resolve(null);

  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.env = { ...process.env, PVNET_RUNDIR: this.dir };
    this.sock = join(this.dir, "control.sock");
  }

  /** What it printed so far, stdout and stderr together. */
  get out(): string {
    return this.#out;
  }

  /** Its exit code, or null while it runs. */
  get exitCode(): number | null {
    return this.#proc?.exitCode ?? null;
  }

  /** Starts it (with `args` after `up`); resolves once it printed its control socket's line. */
  async start(args: readonly string[] = []): Promise<void> {
    const p = spawn(process.execPath, [MAIN, "up", ...args], { env: this.env });
    this.#proc = p;
    p.stdout!.setEncoding("utf8").on("data", (c: string) => (this.#out += c));
    p.stderr!.setEncoding("utf8").on("data", (c: string) => (this.#out += c));
    this.#done = new Promise((resolve) => p.on("close", (code) => resolve(code)));
    await until("pvnet up's control line", async () => this.#out.includes(`control at ${this.sock}`));
  }

  /** Ctrl-C, if it still runs: it must exit 0. Returns whether it was running. */
  async stop(): Promise<boolean> {
    const running = this.#proc !== null && this.#proc.exitCode === null;
    if (running) {
      this.#proc!.kill("SIGINT");
      assert.equal(await this.#done, 0, this.#out.slice(-500));
    }
    return running;
  }

  /** Removes the run directory. */
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
