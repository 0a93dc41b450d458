/**
 * `pvnet bench xenstore`: reads, writes, directory listings and transactions per second,
 * with many requests in flight, over the unix socket (an in-process daemon and XsClient, as
 * dom0 tools reach it) and over a guest's ring page (a guest worker's client against the
 * Domain-0 worker's daemon, through the event channel). `mpps` is Mops/s; `opsPerSec` the
 * same unscaled.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Machine } from "../src/hv/machine.js";
import { XsClient } from "../src/xenstore/client.js";
import { Xenstored } from "../src/xenstore/daemon.js";
import { XsSocketServer } from "../src/xenstore/transport/socket.js";
import type { BenchOptions, BenchRow } from "./result.js";
import {
  outstandingFor,
  runXsLoad,
  XS_BENCH_OPS,
  type XsLoadArgs,
  type XsLoadResult,
} from "./xenstore-load.js";

export const XS_BENCH_OUTSTANDING = 64;

export async function measureXsSocket(a: XsLoadArgs): Promise<XsLoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "pvnet-xs-bench-"));
  const server = await XsSocketServer.listen(new Xenstored(), join(dir, "socket"), { log: () => {} });
  const c = await XsClient.connect(server.path);
  try {
    return await runXsLoad(c, a);
  } finally {
    c.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureXsRing(a: XsLoadArgs): Promise<XsLoadResult> {
  const m = new Machine();
  try {
    const done = new Promise<XsLoadResult>((resolve, reject) =>
      m.on("report", (_d: number, x: { t: string; rates?: XsLoadResult; message?: string }) => {
        if (x.t === "xs-bench") resolve(x.rates!);
        else if (x.t === "xs-bench-failed") reject(new Error(`xenstore ring bench: ${x.message}`));
      }),
    );
    const program = (p: string) => new URL(`./${p}.js`, import.meta.url);
    await m.createDomain({ name: "Domain-0", pages: 64, program: program("xenstore-dom0") });
    await m.createDomain({ name: "guest", pages: 64, program: program("xenstore-guest"), args: a });
    return await done;
  } finally {
    await m.shutdown();
  }
}

function rows(transport: string, r: XsLoadResult, outstanding: number): BenchRow[] {
  return XS_BENCH_OPS.map((op) => ({
    name: `xenstore ${transport} ${op}`,
    frameBytes: 0,
    batch: outstandingFor(op, outstanding),
    mpps: r[op] / 1e6,
    gbps: 0,
    opsPerSec: Math.round(r[op]),
  }));
}

export async function benchXenstore(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const log = opts.log ?? (() => {});
  const a: XsLoadArgs = {
    outstanding: XS_BENCH_OUTSTANDING,
    warmupMs: opts.quick ? 50 : 250,
    measureMs: opts.quick ? 200 : 1000,
  };
  const out: BenchRow[] = [];
  for (const [name, measure] of [
    ["socket", measureXsSocket],
    ["ring", measureXsRing],
  ] as const) {
    const r = rows(name, await measure(a), a.outstanding);
    for (const row of r) log(`${row.name}: ${row.opsPerSec} ops/s`);
    out.push(...r);
  }
  return out;
}
