/** Starts and stops the hostile writer thread of programs/scribbler.ts. */
import { Worker } from "node:worker_threads";
import type { ScribbleGroup } from "./programs/scribbler.js";

export type { ScribbleGroup };

export interface Scribbler {
  /** Stops the thread; resolves to the number of writes it made. */
  stop(): Promise<number>;
}

export async function startScribbler(
  sab: SharedArrayBuffer,
  groups: ScribbleGroup[],
  seed = 1,
): Promise<Scribbler> {
  const stop = new SharedArrayBuffer(4);
  const w = new Worker(new URL("./programs/scribbler.js", import.meta.url), {
    workerData: { sab, groups, stop, seed },
  });
  const failed = new Promise<never>((_, reject) => w.once("error", reject));
  await Promise.race([new Promise((r) => w.once("message", r)), failed]);
  return {
    stop: async () => {
      const done = new Promise<{ writes: number }>((r) => w.once("message", r));
      Atomics.store(new Int32Array(stop), 0, 1);
      const { writes } = await Promise.race([done, failed]);
      await w.terminate();
      return writes;
    },
  };
}

/** Uint32 index of byte offset `at`. */
export const word = (at: number): number => at >>> 2;
