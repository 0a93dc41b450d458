/**
 * `pvnet top -b`: xentop's batch mode for a running host. Every interval it asks the host for
 * its domains and its vifs' netback counters (read by the host from shared memory, so
 * watching costs the datapath nothing) and prints plain lines: a row per domain as xentop's
 * (NETTX/NETRX from the guest's view, as xentop's), then a row per vif with rates per
 * direction, drops and errors under netback's own names (Domain-0's view: tx_* went to the
 * guest, rx_* came from it). Without -b, the same table full screen, refreshed in place
 * (q quits, s changes the vif rows' order).
 */
import { type Command, InvalidArgumentError } from "commander";
import type { ListRow, TopVif } from "../toolstack/control.js";
import { controlRequest, defaultControlSocket } from "./control-client.js";
import { ENV_HELP } from "./env-help.js";
import { socketPathArg, usage } from "./style.js";

interface TopOpts {
  control?: string;
  json?: boolean;
  batch?: boolean;
  interval: number;
  iterations?: number;
}

interface Sample {
  atMs: number;
  domains: ListRow[];
  vifs: TopVif[];
}

/** One vif's rates over an interval; drops and errors are totals, as xentop's. */
export interface VifRates {
  name: string;
  domain: string;
  frontend: string;
  backend: string;
  tx_pps: number;
  tx_bps: number;
  rx_pps: number;
  rx_bps: number;
  tx_dropped: number;
  rx_dropped: number;
  /** tx_fatal + grant_errors. */
  errors: number;
}

export interface DomainRow {
  name: string;
  state: string;
  cpuSec: number;
  cpuPct: number;
  memK: number;
  vcpus: number;
  nets: number;
  /** KiB the domain sent on its vifs (netback's rx_bytes), and received (tx_bytes). */
  nettxK: number;
  netrxK: number;
}

export function rates(prev: Sample, cur: Sample): { domains: DomainRow[]; vifs: VifRates[] } {
  const dt = Math.max(1e-6, (cur.atMs - prev.atMs) / 1000);
  const vifs = cur.vifs.map((v): VifRates => {
    const p = prev.vifs.find((x) => x.name === v.name && x.domid === v.domid)?.counters;
    const c = v.counters;
    const d = (k: keyof TopVif["counters"]): number => Math.max(0, c[k] - (p?.[k] ?? 0)) / dt;
    return {
      name: v.name,
      domain: v.domain,
      frontend: v.frontend,
      backend: v.backend,
      tx_pps: d("tx_packets"),
      tx_bps: d("tx_bytes") * 8,
      rx_pps: d("rx_packets"),
      rx_bps: d("rx_bytes") * 8,
      tx_dropped: c.tx_dropped,
      rx_dropped: c.rx_dropped,
      errors: c.tx_fatal + c.grant_errors,
    };
  });
  const domains = cur.domains.map((r): DomainRow => {
    const was = prev.domains.find((x) => x.id === r.id);
    const mine = cur.vifs.filter((v) => v.domid === r.id);
    return {
      name: r.name,
      state: r.state,
      cpuSec: r.time,
      cpuPct: was === undefined ? 0 : (Math.max(0, r.time - was.time) * 100) / dt,
      memK: r.mem * 1024,
      vcpus: r.vcpus,
      nets: mine.length,
      nettxK: Math.floor(mine.reduce((s, v) => s + v.counters.rx_bytes, 0) / 1024),
      netrxK: Math.floor(mine.reduce((s, v) => s + v.counters.tx_bytes, 0) / 1024),
    };
  });
  return { domains, vifs };
}

const n0 = (x: number): string => Math.round(x).toString();

/** One iteration's plain lines. */
export function topLines(t: { domains: DomainRow[]; vifs: VifRates[] }): string[] {
  const out = [`${"NAME".padStart(10)}  STATE   CPU(sec) CPU(%)     MEM(k) VCPUS NETS NETTX(k) NETRX(k)`];
  for (const d of t.domains)
    out.push(
      `${d.name.padStart(10)} ${d.state.padStart(6)} ${d.cpuSec.toFixed(1).padStart(10)} ${d.cpuPct.toFixed(1).padStart(6)} ${n0(d.memK).padStart(10)} ${n0(d.vcpus).padStart(5)} ${n0(d.nets).padStart(4)} ${n0(d.nettxK).padStart(8)} ${n0(d.netrxK).padStart(8)}`,
    );
  out.push(
    `${"VIF".padStart(10)} ${"DOMAIN".padStart(10)} ${"FE/BE".padEnd(21)}   tx_pps     tx_bps   rx_pps     rx_bps tx_dropped rx_dropped errors`,
  );
  for (const v of t.vifs)
    out.push(
      `${v.name.padStart(10)} ${v.domain.padStart(10)} ${`${v.frontend}/${v.backend}`.padEnd(21)} ${n0(v.tx_pps).padStart(8)} ${n0(v.tx_bps).padStart(10)} ${n0(v.rx_pps).padStart(8)} ${n0(v.rx_bps).padStart(10)} ${n0(v.tx_dropped).padStart(10)} ${n0(v.rx_dropped).padStart(10)} ${n0(v.errors).padStart(6)}`,
    );
  return out;
}

/** What `s` cycles the vif rows' order through in the full-screen mode (busiest first). */
export const SORT_KEYS = [
  "name",
  "tx_pps",
  "rx_pps",
  "tx_bps",
  "rx_bps",
  "tx_dropped",
  "rx_dropped",
  "errors",
] as const;

export function sortVifs(vifs: readonly VifRates[], key: (typeof SORT_KEYS)[number]): VifRates[] {
  if (key === "name") return [...vifs];
  return [...vifs].sort((a, b) => b[key] - a[key]);
}

function seconds(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0.05 || n > 3600)
    throw new InvalidArgumentError(`expected seconds between 0.05 and 3600, got ${JSON.stringify(v)}`);
  return n;
}

function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new InvalidArgumentError(`expected a count >= 1, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function topCommand(program: Command): void {
  program
    .command("top")
    .description(
      "a running host's domains and vifs with rates, drops and errors, as xentop (full screen; -b: batch)",
    )
    .option(
      "-b, --batch",
      "batch mode: plain lines every interval (default: full screen, refreshing in place)",
    )
    .option("-i, --interval <secs>", "seconds between updates", seconds, 1)
    .option("-n, --iterations <n>", "stop after N updates (default: until interrupted)", positiveInt)
    .option(
      "--control <path>",
      `the host's control socket (default ${defaultControlSocket()})`,
      socketPathArg,
    )
    .option("--json", "one JSON object per update (one a line)")
    .addHelpText(
      "after",
      "\nDomain rows: NETTX/NETRX from the domain's view (as xentop's). Vif rows: netback's counters,\nDomain-0's view as Linux's vifN.M: tx_* went to the guest, rx_* came from it; errors = tx_fatal + grant_errors.\n",
    )
    .addHelpText("after", ENV_HELP.control)
    .action(async (o: TopOpts) => {
      const screen = o.batch !== true && o.json !== true;
      if (screen && process.stdout.isTTY !== true)
        throw usage("the full-screen mode needs a terminal", "use -b for plain lines, or --json");
      const path = o.control ?? defaultControlSocket();
      const sample = async (): Promise<Sample> => {
        const r = await controlRequest(path, { op: "top" });
        return { atMs: Number(r.atMs), domains: r.domains as ListRow[], vifs: r.vifs as TopVif[] };
      };
      let stop = false;
      let wake: (() => void) | null = null;
      const onInt = (): void => {
        stop = true;
        wake?.();
      };
      let sortBy = 0;
      let last: ReturnType<typeof rates> | null = null;
      const draw = (): void => {
        if (last === null) return;
        const key = SORT_KEYS[sortBy]!;
        const t = { domains: last.domains, vifs: sortVifs(last.vifs, key) };
        const head = `pvnet top - ${new Date().toTimeString().slice(0, 8)}  ${t.domains.length} domains, ${t.vifs.length} vifs  (q: quit, s: sort by ${key})`;
        const lines = [head, "", ...topLines(t)];
        process.stdout.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\n")}\n\x1b[J`);
      };
      const onKey = (k: Buffer): void => {
        const c = k.toString("utf8");
        if (c === "q" || c === "\x03") onInt();
        else if (c === "s") {
          sortBy = (sortBy + 1) % SORT_KEYS.length;
          draw();
        }
      };
      process.on("SIGINT", onInt);
      if (screen) {
        process.stdout.write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
        if (process.stdin.isTTY === true) {
          process.stdin.setRawMode(true);
          process.stdin.on("data", onKey);
          process.stdin.resume();
        }
      }
      try {
        let prev = await sample();
        for (let i = 1; !stop && (o.iterations === undefined || i <= o.iterations); i++) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, o.interval * 1000);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          wake = null;
          if (stop) break;
          const cur = await sample();
          const t = rates(prev, cur);
          prev = cur;
          if (o.json === true) process.stdout.write(`${JSON.stringify({ iteration: i, ...t })}\n`);
          else if (screen) {
            last = t;
            draw();
          } else process.stdout.write(`${topLines(t).join("\n")}\n`);
        }
      } finally {
        process.off("SIGINT", onInt);
        if (screen) {
          process.stdout.write("\x1b[?25h\x1b[?1049l");
          if (process.stdin.isTTY === true) {
            process.stdin.off("data", onKey);
            process.stdin.setRawMode(false);
            process.stdin.pause();
          }
        }
      }
    });
}
