/**
 * `pvnet bench storm`: what a guest attacking Domain-0's event channels costs another pair
 * (issue 17, defect 3: at most 10 % of its throughput). guest1 sends 64 B UDP frames to
 * guest2 as in `bench vif`; guest3, on the same switch, is idle (the baseline), fires every
 * channel it has to Domain-0 with no work behind it, or forges every pending bit of
 * Domain-0's half of their link page. Late EOI and the loop's side backoff are what keep
 * the pair's rate. Each row gives it as a share of the idle row's (`ofIdle`) and of the
 * control's (`ofBusy`): a guest spinning as hard without touching a channel, since on a
 * machine with fewer cores than busy threads the attacker's CPU costs the pair too, and
 * that part is the host scheduler's to share out, not the event channels'. `dom0Busy` is
 * Domain-0's thread's busy share over the window (its event-loop utilization), where the
 * event channels' own cost shows.
 */
import { parseHostConfig } from "../src/toolstack/config.js";
import type { HostConfig } from "../src/toolstack/config-types.js";
import { Host } from "../src/toolstack/host.js";
import { type BenchOptions, type BenchRow, benchSession, gbpsOf, median } from "./result.js";
import type { StormRole } from "./storm-guest.js";
import { type VifBenchExtra, type VifBenchRole, W_GO, W_READY, W_RX, W_TX, W_WORDS } from "./vif-guest.js";
import { sleep, until } from "./wait.js";

const FRAME = 64;
const MACS = [0x00163e000100, 0x00163e000200, 0x00163e000300];
const IPS = [0x0a000001, 0x0a000002, 0x0a000003];

type Third = "rx" | StormRole;
const CASES: readonly { third: Third; name: string }[] = [
  { third: "rx", name: "vif pair, third guest idle" },
  { third: "storm-spin", name: "vif pair, third guest busy touching no channel (control)" },
  { third: "storm-send", name: "vif pair, third guest firing its channels" },
  { third: "storm-forge", name: "vif pair, third guest forging Domain-0's pending bits" },
];

export async function benchStorm(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const { runs, warmupMs, measureMs, rows, add } = benchSession(opts);
  const results = CASES.map(() => [] as number[]);
  const fired = CASES.map(() => [] as number[]);
  const busy0 = CASES.map(() => [] as number[]);
  // Interleaved, so a slow patch of a shared machine does not land on one case only.
  for (let i = 0; i < runs; i++) {
    for (let c = 0; c < CASES.length; c++) {
      const r = await measureStorm(CASES[c].third, warmupMs, measureMs);
      results[c].push(r.mpps);
      fired[c].push(r.firedPerSec);
      busy0[c].push(r.dom0Busy);
    }
  }
  const base = median(results[0]);
  const busy = median(results[1]);
  for (let c = 0; c < CASES.length; c++) {
    const mpps = median(results[c]);
    add({
      name: CASES[c].name,
      frameBytes: FRAME,
      batch: 32,
      mpps,
      gbps: gbpsOf(mpps, FRAME),
      ofIdle: Number((mpps / base).toFixed(3)),
      ofBusy: Number((mpps / busy).toFixed(3)),
      attacksPerSec: Math.round(median(fired[c])),
      dom0Busy: Number(median(busy0[c]).toFixed(2)),
    });
  }
  return rows;
}

function stormHost(): HostConfig {
  const guest = (i: number) =>
    `  - name: guest${i + 1}\n    memory: 64M\n    vifs:\n      - mac: "00:16:3e:00:0${i + 1}:00"\n        ip: 10.0.0.${i + 1}/24\n`;
  const yaml = `domains:\n  - name: Domain-0\n    memory: 128M\n${guest(0)}${guest(1)}${guest(2)}bridges:\n  vale0: {}\n`;
  const r = parseHostConfig(yaml, "(bench storm)");
  if (!r.ok) throw new Error(`bench storm host: ${r.issues[0].field}: ${r.issues[0].problem}`);
  return r.config;
}

/** guest2's receive rate in Mpps while guest3 plays `third`, and guest3's attacks a second. */
export async function measureStorm(
  third: Third,
  warmupMs: number,
  measureMs: number,
): Promise<{ mpps: number; firedPerSec: number; dom0Busy: number }> {
  const roles: (VifBenchRole | StormRole)[] = ["tx", "rx", third];
  const extras = roles.map((role, i) => ({
    role,
    frameBytes: FRAME,
    flows: 8,
    peerMac: MACS[i === 0 ? 1 : 0],
    peerIp: IPS[i === 0 ? 1 : 0],
    words: new SharedArrayBuffer(W_WORDS * 8),
    pings: 0,
    rtts: new SharedArrayBuffer(8),
  })) as unknown as VifBenchExtra[];
  const host = await Host.boot(stormHost(), {
    socketPath: null,
    guestProgram: new URL("./storm-guest.js", import.meta.url),
    guestExtra: (i) => extras[i],
  });
  try {
    const words = extras.map((e) => new Float64Array(e.words));
    await until(() => words.every((w) => w[W_READY] === 1), 10_000, "three vifs Connected");
    for (const w of words) w[W_GO] = 1;
    await sleep(warmupMs);
    const rx = words[1];
    const attacker = words[2];
    const n0 = rx[W_RX];
    const a0 = attacker[W_TX];
    const u0 = host.machine.loopUtilization(0);
    const t0 = performance.now();
    await sleep(measureMs);
    const dt = performance.now() - t0;
    const u = u0 === undefined ? undefined : host.machine.loopUtilization(0, u0);
    return {
      mpps: (rx[W_RX] - n0) / dt / 1000,
      firedPerSec: ((attacker[W_TX] - a0) / dt) * 1000,
      dom0Busy: u?.utilization ?? Number.NaN,
    };
  } finally {
    await host.shutdown();
  }
}
