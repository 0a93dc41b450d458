/**
 * A vif's `rate` in the host file, turned into the backend's `rate` key as libxl does
 * (xl's `rate=10Mb/s@50ms` → "<bytes per interval>,<interval in usecs>"), or taken as that
 * key's own form. Units are decimal (K = 1000): bit, Kbit, Mbit, Gbit (also b, Kb, Mb, Gb)
 * and B, KB, MB, GB; the interval defaults to libxl's 50 ms.
 */

/** libxl's default replenishment interval. */
export const RATE_INTERVAL_USECS_DEFAULT = 50_000;

export type RateParse = { ok: true; key: string; bytesPerSecond: number } | { ok: false; problem: string };

const UNITS: Record<string, number> = {
  bit: 1 / 8,
  b: 1 / 8,
  Kbit: 1e3 / 8,
  Kb: 1e3 / 8,
  Mbit: 1e6 / 8,
  Mb: 1e6 / 8,
  Gbit: 1e9 / 8,
  Gb: 1e9 / 8,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
};

const MAX_USECS = 0xffffffff;

export function parseRateConfig(text: string): RateParse {
  const raw = /^(\d{1,16}),(\d{1,10})$/.exec(text);
  if (raw !== null) {
    const bytes = Number(raw[1]);
    const usecs = Number(raw[2]);
    if (bytes === 0) return { ok: false, problem: "grants 0 bytes per interval" };
    if (usecs < 1000 || usecs > MAX_USECS)
      return { ok: false, problem: `has an interval of ${usecs} us (netback counts whole milliseconds)` };
    return { ok: true, key: text, bytesPerSecond: (bytes * 1e6) / usecs };
  }
  const m = /^(\d+(?:\.\d+)?)(bit|b|Kbit|Kb|Mbit|Mb|Gbit|Gb|B|KB|MB|GB)\/s(?:@(\d+)(ms|us))?$/.exec(text);
  if (m === null) return { ok: false, problem: "is not a rate" };
  const perSec = Number(m[1]) * UNITS[m[2]]!;
  const usecs = m[3] === undefined ? RATE_INTERVAL_USECS_DEFAULT : Number(m[3]) * (m[4] === "ms" ? 1000 : 1);
  if (!(usecs >= 1000 && usecs <= MAX_USECS))
    return { ok: false, problem: `has an interval of ${usecs} us (from 1ms to about 71 minutes)` };
  const bytes = Math.floor((perSec * usecs) / 1e6);
  if (bytes < 1) return { ok: false, problem: "grants less than a byte per interval" };
  if (!Number.isSafeInteger(bytes)) return { ok: false, problem: "is too large" };
  return { ok: true, key: `${bytes},${usecs}`, bytesPerSecond: (bytes * 1e6) / usecs };
}
