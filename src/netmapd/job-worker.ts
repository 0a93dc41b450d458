/**
 * A pkt-gen instance in a worker thread of netmapd: opens the pipe end it was given, runs
 * the instance, posts each output line and finally the result. A `{ stop: true }` message
 * ends the run early (the client went away or asked to stop); the final lines still come.
 */
import { parentPort, workerData } from "node:worker_threads";
import { toWireError } from "../base/errors.js";
import type { PktGenOptions } from "../pktgen/options.js";
import { runInstance } from "../pktgen/run.js";
import { openRemotePort, type RemotePortDesc } from "../vale/remote.js";

export interface JobWorkerData {
  opts: PktGenOptions;
  desc: RemotePortDesc;
  stopAfterMs?: number;
}

export type JobWorkerMsg = { line: string } | { result: unknown } | { error: ReturnType<typeof toWireError> };

const { opts, desc, stopAfterMs } = workerData as JobWorkerData;
const post = (m: JobWorkerMsg): void => parentPort?.postMessage(m);
let stop = false;
parentPort?.on("message", (m: { stop?: boolean }) => {
  if (m.stop === true) stop = true;
});
const deadline = stopAfterMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + stopAfterMs;

try {
  const port = openRemotePort(desc);
  try {
    const result = await runInstance(
      port,
      opts,
      (line) => post({ line }),
      () => stop || performance.now() >= deadline,
      false,
    );
    post({ result });
  } finally {
    port.close();
  }
} catch (e) {
  post({ error: toWireError(e) });
}
parentPort?.close();
