/**
 * A guest that writes the process's main thread id into its thread probe, as guest code in a
 * domain's thread could: Machine.setCpus must refuse to act on that thread.
 */
import { workerData } from "node:worker_threads";

export default function main(): void {
  const probe = (workerData as { probe?: SharedArrayBuffer }).probe;
  if (probe !== undefined) new Float64Array(probe, 0, 1)[0] = process.pid;
}
