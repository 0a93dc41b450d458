/**
 * `pvnet bench soak [--minutes N]`: a long run under attack. guest1 sends 64-byte UDP
 * frames to guest2 at 80 % of the rate measured first (one second flat out); meanwhile the
 * malicious frontend on a third guest runs a random case of its catalogue every few
 * seconds against netback. Printed per period (a minute, or a quarter of a short run): the
 * good pair's throughput, frames lost between them so far (sent but not received: in
 * flight at that moment, or dropped), the process's RSS and the main thread's heap, and
 * the cases run and how many came out as expected.
 */
import { FRONTEND_CASES } from "../src/adversary/frontend-cases.js";
import type { AdvReport } from "../src/adversary/proto.js";
import { Rng } from "../src/adversary/random.js";
import { dom0Resources } from "../src/adversary/resources.js";
import { parseHostConfig } from "../src/toolstack/config.js";
import { Host } from "../src/toolstack/host.js";
import type { BenchOptions, BenchRow } from "./result.js";
import { gbpsOf } from "./result.js";
import { S_GO, S_RATE, S_READY, S_REFUSED, S_RX, S_TX, S_WORDS, type SoakExtra } from "./soak-guest.js";
import { sleep, until } from "./wait.js";

const FRAME = 64;
const HOST = `domains:
  - name: Domain-0
    memory: 128M
  - name: guest1
    vifs: [{ mac: "00:16:3e:00:01:00", ip: 10.0.0.1/24 }]
  - name: guest2
    vifs: [{ mac: "00:16:3e:00:02:00", ip: 10.0.0.2/24 }]
  - name: adversary
    vifs: [{ mac: "00:16:3e:0a:dd:01" }]
bridges:
  vale0: {}
`;

export interface SoakOptions extends BenchOptions {
  /** How long to run; default 10 (1 with --quick). */
  minutes?: number;
}

export async function benchSoak(opts: SoakOptions = {}): Promise<BenchRow[]> {
  const log = opts.log ?? (() => {});
  const minutes = opts.minutes ?? (opts.quick ? 1 : 10);
  const totalMs = minutes * 60_000;
  const periodMs = Math.min(60_000, Math.max(2000, totalMs / 4));
  const caseEveryMs = totalMs < 60_000 ? 1000 : 3000;
  const parsed = parseHostConfig(HOST, "(bench soak)");
  if (!parsed.ok) throw new Error(`bench soak host: ${parsed.issues[0]!.problem}`);
  const words = [new SharedArrayBuffer(S_WORDS * 8), new SharedArrayBuffer(S_WORDS * 8)];
  const mac = (s: string): number => Number.parseInt(s.replaceAll(":", ""), 16);
  const extras: SoakExtra[] = [
    {
      role: "tx",
      frameBytes: FRAME,
      peerMac: mac("00:16:3e:00:02:00"),
      peerIp: 0x0a000002,
      words: words[0]!,
    },
    { role: "rx", frameBytes: FRAME, peerMac: 0, peerIp: 0, words: words[1]! },
    { role: "adv", frameBytes: 0, peerMac: 0, peerIp: 0, words: new SharedArrayBuffer(8) },
  ];
  const host = await Host.boot(parsed.config, {
    socketPath: null,
    guestProgram: new URL("./soak-guest.js", import.meta.url),
    guestExtra: (i) => extras[i],
    statusMs: 100,
    // The adversary's vif (or the victim's, against a malicious backend) connects on the
    // attacker's terms, case by case: boot must not wait for it.
    connectTimeoutMs: 0,
  });
  const tx = new Float64Array(words[0]!);
  const rx = new Float64Array(words[1]!);
  const rows: BenchRow[] = [];
  let pending: ((r: AdvReport) => void) | null = null;
  host.machine.on("report", (_d: number, r: AdvReport) => {
    if (typeof r === "object" && r !== null && typeof r.t === "string" && r.t.startsWith("adv-"))
      pending?.(r);
  });
  const ask = (m: unknown, ms: number): Promise<AdvReport | null> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        pending = null;
        resolve(null);
      }, ms);
      pending = (r) => {
        clearTimeout(t);
        pending = null;
        resolve(r);
      };
      host.machine.post(3, m);
    });
  try {
    await until(() => tx[S_READY] === 1 && rx[S_READY] === 1, 10_000, "the good guests' vifs");
    const hello = await ask({ t: "adv-hello" }, 10_000);
    if (hello?.t !== "adv-ready" || hello.error !== undefined) throw new Error("the adversary did not start");
    // Capacity: one second (half with --quick) flat out.
    const capMs = opts.quick ? 500 : 1000;
    tx[S_RATE] = 0;
    tx[S_GO] = 1;
    await sleep(200);
    const r0 = rx[S_RX]!;
    await sleep(capMs);
    const capacity = ((rx[S_RX]! - r0) * 1000) / capMs;
    tx[S_GO] = 0;
    await sleep(300);
    const rate = Math.max(1000, Math.floor(capacity * 0.8));
    log(`capacity ${(capacity / 1e6).toFixed(3)} Mpps; sending at ${(rate / 1e6).toFixed(3)} Mpps`);
    // Backpressure drops of frames for guest2: netback counts them on its vif as tx_dropped
    // (Linux's direction: Domain-0 transmitting to the guest), copied every status period.
    const dropped = (): number =>
      host.status().vifs.find((v) => v.domain === "guest2")?.counters.tx_dropped ?? 0;
    const base = { tx: tx[S_TX]!, rx: rx[S_RX]!, dropped: dropped() };
    const res0 = await dom0Resources(host);
    tx[S_RATE] = rate;
    tx[S_GO] = 1;
    const rng = new Rng(1);
    const names = FRONTEND_CASES.map((c) => c.name);
    let cases = 0;
    let asExpected = 0;
    const t0 = performance.now();
    let periodStart = t0;
    let periodRx = rx[S_RX]!;
    let nextCase = t0;
    let ran = 0;
    while (performance.now() - t0 < totalMs) {
      if (performance.now() >= nextCase) {
        const name = rng.pick(names);
        const r = await ask({ t: "adv-case", name }, 20_000);
        cases++;
        const c = FRONTEND_CASES.find((x) => x.name === name)!;
        if (r?.t === "adv-case-done" && r.outcome !== null && c.expect.includes(r.outcome)) asExpected++;
        else log(`case ${name}: ${JSON.stringify(r)}`);
        nextCase = performance.now() + caseEveryMs;
      }
      await sleep(50);
      const now = performance.now();
      if (now - periodStart >= periodMs || now - t0 >= totalMs) {
        const secs = (now - periodStart) / 1000;
        const got = rx[S_RX]! - periodRx;
        const mem = process.memoryUsage();
        const row: BenchRow = {
          name: `soak ${((now - t0) / 60_000).toFixed(2)} min`,
          frameBytes: FRAME,
          batch: 1,
          mpps: got / secs / 1e6,
          gbps: gbpsOf(got / secs / 1e6, FRAME),
          lostSoFar: tx[S_TX]! - base.tx - (rx[S_RX]! - base.rx),
          droppedSoFar: dropped() - base.dropped,
          rssMiB: Math.round(mem.rss / 2 ** 20),
          heapMiB: Math.round(mem.heapUsed / 2 ** 20),
          cases,
          asExpected,
        };
        rows.push(row);
        log(JSON.stringify(row));
        periodStart = now;
        periodRx = rx[S_RX]!;
      }
    }
    ran = (performance.now() - t0) / 1000;
    tx[S_GO] = 0;
    await sleep(500);
    const sent = tx[S_TX]! - base.tx;
    rows.push({
      name: "soak total",
      frameBytes: FRAME,
      batch: 1,
      mpps: sent / ran / 1e6,
      gbps: gbpsOf(sent / ran / 1e6, FRAME),
      capacityMpps: capacity / 1e6,
      targetMpps: rate / 1e6,
      sent,
      lost: tx[S_TX]! - base.tx - (rx[S_RX]! - base.rx),
      countedDrops: dropped() - base.dropped,
      refused: tx[S_REFUSED]!,
      cases,
      asExpected,
      dom0Leaked: JSON.stringify(res0) === JSON.stringify(await dom0Resources(host)) ? "none" : "changed",
    });
  } finally {
    await host.shutdown();
  }
  return rows;
}
