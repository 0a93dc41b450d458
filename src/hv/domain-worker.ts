/**
 * Entry point of every domain worker: builds the Domain runtime from the init data, runs
 * the program's `main(dom, args)`, then keeps the event loop going until shutdown.
 */
import { parentPort, workerData } from "node:worker_threads";
import { toWireError } from "../base/errors.js";
import { pinThisThread } from "./cpus.js";
import { Domain } from "./domain.js";
import { parseHeapSampleSpec, startHeapSampling } from "./heap-sampler.js";
import { inheritLoader, programLoadError } from "./program-load.js";
import { niceThisThread } from "./thread-nice.js";
import { startThreadProbe } from "./thread-probe.js";
import type { DomainInit, FromDomain } from "./worker-proto.js";

export type DomainProgram = (dom: Domain, args: unknown) => void | Promise<void>;

async function boot(): Promise<void> {
  if (parentPort === null) throw new Error("domain-worker must run in a worker thread");
  const init = workerData as DomainInit;
  const port = parentPort;
  // Best effort: where the system has no per-thread nice, the domain runs as it would.
  if (init.nice !== null) niceThisThread(init.nice);
  if (init.probe !== undefined) startThreadProbe(init.probe);
  const heapSample = parseHeapSampleSpec(process.env.PVNET_HEAP_SAMPLE);
  if (heapSample !== null) startHeapSampling(heapSample, init.name);
  const dom = new Domain(init, port);
  try {
    if (init.cpus !== null) await pinThisThread(init.cpus);
    await inheritLoader(init.program, process.execArgv, process.cwd());
    const mod = (await import(init.program)) as { default: DomainProgram };
    void dom.loop.start();
    await mod.default(dom, init.args);
    port.postMessage({ t: "ready" } satisfies FromDomain);
  } catch (e) {
    // A program Node cannot load (a missing import, a .ts file without a loader) is the
    // user's to fix, not a bug in pvnet: one line that says what to do.
    const err = programLoadError(e, init.program) ?? e;
    port.postMessage({ t: "failed", error: toWireError(err) } satisfies FromDomain);
    dom.loop.stop();
    dom.timers.cancelAll();
    port.close();
  }
}

void boot();
