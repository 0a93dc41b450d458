/**
 * One measured case of a benchmark. `pvnet bench NAME --json` prints
 * `{"results":[BenchRow, ...]}`; baselines are rows too, their `name` saying what they are.
 */
export interface BenchRow {
  /** What was measured, e.g. "ring notify", "postMessage frame", "C ring notify". */
  name: string;
  frameBytes: number;
  batch: number;
  mpps: number;
  gbps: number;
  /**
   * True for a row that measures no rate (ping latencies; a boot with no sending pair): its
   * mpps and gbps are 0 and the table leaves them blank rather than print zeros.
   */
  noRate?: boolean;
  /** Free-form extras: ratios, skip reasons, latency percentiles. */
  [extra: string]: string | number | boolean | null | undefined;
}

/** Frame bytes only (no preamble or inter-frame gap), as in shared/reference/perf-lessons.md. */
export function gbpsOf(mpps: number, frameBytes: number): number {
  return (mpps * 1e6 * frameBytes * 8) / 1e9;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** A row that could not be measured here, with the reason (a visible skip, never a pass). */
export function skippedRow(name: string, frameBytes: number, batch: number, reason: string): BenchRow {
  return { name, frameBytes, batch, mpps: 0, gbps: 0, skipped: reason };
}

/** Renders rows as a fixed-width table. */
export function formatTable(rows: readonly BenchRow[]): string {
  const extraKeys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter(
    (k) => !["name", "frameBytes", "batch", "mpps", "gbps", "noRate"].includes(k),
  );
  const head = ["case", "frame B", "batch", "Mpps", "Gbit/s", ...extraKeys];
  const cell = (v: unknown): string =>
    typeof v === "number"
      ? Number.isInteger(v)
        ? String(v)
        : v.toFixed(2)
      : v === undefined
        ? ""
        : String(v);
  const body = rows.map((r) => [
    r.name,
    String(r.frameBytes),
    String(r.batch),
    r.noRate === true ? "" : cell(r.mpps),
    r.noRate === true ? "" : cell(r.gbps),
    ...extraKeys.map((k) => cell(r[k])),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** What a quick run's figures are, said above its table (and as `"quick": true` in --json). */
export const QUICK_NOTE =
  "quick run: one run per case and shorter windows, the warm-up still excluded: rougher figures than a full run's";

export interface BenchOptions {
  /** One run per case and a shorter window (the warm-up is still excluded): rougher figures. */
  quick?: boolean;
  log?: (line: string) => void;
}

/** Runs, windows and the row collector every benchmark uses. */
export function benchSession(opts: BenchOptions): {
  runs: number;
  warmupMs: number;
  measureMs: number;
  rows: BenchRow[];
  add: (r: BenchRow) => void;
} {
  const log = opts.log ?? (() => {});
  const rows: BenchRow[] = [];
  return {
    runs: opts.quick ? 1 : 3,
    warmupMs: opts.quick ? 100 : 250,
    measureMs: opts.quick ? 500 : 750,
    rows,
    add: (r) => {
      rows.push(r);
      const what = r.skipped
        ? `skipped (${r.skipped})`
        : r.noRate === true
          ? "done"
          : `${r.mpps.toFixed(2)} Mpps`;
      log(`${r.name} ${r.frameBytes} B batch ${r.batch}: ${what}`);
    },
  };
}
