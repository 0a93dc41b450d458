/**
 * `pvnet bench adversary`: the adversary's random mode at full length, each side: 10^6
 * random words (10^4 with --quick) written by a malicious frontend into netback's rings,
 * grant entries, link page and vif keys, and by a malicious backend into a netfront's
 * rings and buffers. Reports the words per second, the reconnects after fatal verdicts,
 * the good pair's pings meanwhile and anything Domain-0 kept (it must keep nothing).
 */
import { runAdversary } from "../src/adversary/run.js";
import { defaultHostConfig } from "../src/toolstack/config.js";
import type { BenchOptions, BenchRow } from "./result.js";

export async function benchAdversary(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const n = opts.quick ? 10_000 : 1_000_000;
  const rows: BenchRow[] = [];
  for (const mode of ["frontend", "backend"] as const) {
    const t0 = performance.now();
    const res = await runAdversary({ mode, config: defaultHostConfig(), cases: [], random: { n, seed: 1 } });
    const secs = (performance.now() - t0) / 1000;
    const r = res.random;
    const row: BenchRow = {
      name: `adversary ${mode} random`,
      frameBytes: 0,
      batch: 0,
      mpps: (r?.writes ?? 0) / secs / 1e6,
      gbps: 0,
      words: r?.writes ?? 0,
      seconds: Math.round(secs * 10) / 10,
      reconnects: r?.reconnects ?? 0,
      responses: r?.responses ?? 0,
      dropped: r?.dropped ?? 0,
      goodPings: `${r?.good.received ?? 0}/${r?.good.sent ?? 0}`,
      ok: res.ok,
      problem: r?.leaked === "" ? "none" : (r?.leaked ?? "no result"),
    };
    opts.log?.(JSON.stringify(row));
    rows.push(row);
  }
  return rows;
}
