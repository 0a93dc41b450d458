/** Resolves at the first SIGINT or SIGTERM, logging `${who}: SIG..., shutting down`. */
export function untilSignal(who: string, log: (line: string) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      log(`${who}: ${sig}, shutting down`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}
