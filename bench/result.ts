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
  /** CPU time per frame of each thread in the window, ns (ThreadFigures). */
  cpuNsPerFrame?: ThreadFigures;
  /** Minor GCs (scavenges) per 10^7 frames of each thread in the window. */
  minorGcsPer1e7Frames?: ThreadFigures;
  /** Young-generation bytes allocated per frame by each thread in the window (JSON only). */
  allocBytesPerFrame?: ThreadFigures;
  /** Free-form extras: ratios, skip reasons, latency percentiles. */
  [extra: string]: string | number | boolean | null | undefined | ThreadFigures;
}

/**
 * One figure per thread of a row: the sending guest's, Domain-0's and the receiving guest's;
 * `thread` for a baseline that runs in one thread. A thread the row has no figure for (or
 * the kernel did not say) is left out.
 */
export interface ThreadFigures {
  tx?: number;
  dom0?: number;
  rx?: number;
  thread?: number;
}

const THREADS = ["tx", "dom0", "rx", "thread"] as const;

/** Per-thread figures `--json` carries and the table leaves out. */
const JSON_ONLY: readonly string[] = ["allocBytesPerFrame"];

/** Table columns of the per-thread figures: a key's suffix after each thread's name. */
const FIGURE_COLUMNS: Readonly<Record<string, string>> = {
  cpuNsPerFrame: "ns/f",
  minorGcsPer1e7Frames: "minGC/1e7f",
};

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
    (k) =>
      !["name", "frameBytes", "batch", "mpps", "gbps", "noRate"].includes(k) &&
      !(k in FIGURE_COLUMNS) &&
      !JSON_ONLY.includes(k),
  );
  // Per-thread figures: one column per thread some row has a figure for.
  const figureCols = Object.entries(FIGURE_COLUMNS).flatMap(([k, suffix]) =>
    THREADS.filter((t) => rows.some((r) => figureOf(r, k, t) !== undefined)).map((t) => ({
      head: `${t} ${suffix}`,
      get: (r: BenchRow) => figureOf(r, k, t),
    })),
  );
  const head = ["case", "frame B", "batch", "Mpps", "Gbit/s", ...extraKeys, ...figureCols.map((c) => c.head)];
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
    ...figureCols.map((c) => {
      const v = c.get(r);
      return v === undefined ? "" : v >= 100 ? v.toFixed(0) : v.toFixed(1);
    }),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The median of each thread's figure over runs (a thread without one in every run is left out). */
export function medianFigures(fs: readonly ThreadFigures[]): ThreadFigures {
  const out: ThreadFigures = {};
  for (const t of THREADS) {
    const xs = fs.map((f) => f[t]);
    if (xs.length > 0 && xs.every((x) => typeof x === "number" && Number.isFinite(x)))
      out[t] = median(xs as number[]);
  }
  return out;
}

function figureOf(r: BenchRow, key: string, t: (typeof THREADS)[number]): number | undefined {
  const f = r[key];
  if (typeof f !== "object" || f === null) return undefined;
  const v = f[t];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
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
