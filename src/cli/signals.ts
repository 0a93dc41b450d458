/**
 * SIGINT and SIGTERM for commands that shut down in order. The first signal asks the
 * command to stop; every later one, however many and however close together (a terminal's
 * Ctrl-C reaches the whole process group, and impatient users press it again), is absorbed,
 * so the shutdown that started always finishes the same clean way. The handlers stay
 * installed for the rest of the process: removed any earlier, a signal landing between the
 * command's end and the process's exit would kill it with the default action (exit 130, no
 * "stopped" line, sockets left behind). Node does not keep a process alive for them.
 */
export type ShutdownSignal = "SIGINT" | "SIGTERM";

export interface ShutdownSignals {
  /** The first signal, or null while none came. */
  readonly received: ShutdownSignal | null;
  /** Resolves with the first signal. */
  readonly first: Promise<ShutdownSignal>;
}

/** Takes SIGINT and SIGTERM over from now on; see the module comment. */
export function shutdownSignals(): ShutdownSignals {
  let received: ShutdownSignal | null = null;
  let resolve!: (s: ShutdownSignal) => void;
  const first = new Promise<ShutdownSignal>((r) => {
    resolve = r;
  });
  const on = (sig: ShutdownSignal): void => {
    if (received !== null) return;
    received = sig;
    resolve(sig);
  };
  process.on("SIGINT", () => on("SIGINT"));
  process.on("SIGTERM", () => on("SIGTERM"));
  return {
    get received() {
      return received;
    },
    first,
  };
}

/** Resolves at the first SIGINT or SIGTERM, logging `${who}: SIG..., shutting down`. */
export async function untilSignal(who: string, log: (line: string) => void): Promise<void> {
  const sig = await shutdownSignals().first;
  log(`${who}: ${sig}, shutting down`);
}

/**
 * Ends the process now, with the exit code set so far, once a signal-driven shutdown is
 * complete. Left to end by itself, Node tears its workers' isolates down for tens of ms
 * after the last line, and its signal handlers are gone by then: another Ctrl-C in that
 * window would still kill it (exit 130). Output written so far is already out: stdout and
 * stderr to files and pipes are synchronous on Linux, as they are to terminals.
 */
export function exitAfterSignal(): never {
  process.exit(process.exitCode ?? 0);
}
