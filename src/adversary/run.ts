/**
 * Runs the adversary against a booted host: the host `pvnet up` would boot (the default,
 * or a YAML file) plus what the mode needs (frontend: a malicious guest on the first
 * bridge; backend: a victim guest whose second netfront Domain-0's malicious backend
 * serves), then each case in turn. Per case it records the outcome the adversary observed
 * against the one expected, the offending vif's state, the good guests' pings and UDP
 * echoes during the case, and Domain-0's resources after the case's teardown against the
 * baseline.
 */
import { PvnetError } from "../base/errors.js";
import { ALL_VIF_FEATURES, type DomainConfig, type HostConfig } from "../toolstack/config-types.js";
import { Host, type HostStatus } from "../toolstack/host.js";
import { BACKEND_CASES } from "./backend-cases.js";
import { FRONTEND_CASES } from "./frontend-cases.js";
import { type CaseInfo, expectedText, type Outcome } from "./outcome.js";
import type { AdvCommand, AdvReport, AdvRole } from "./proto.js";
import type { RandomTotals } from "./random.js";
import { type Dom0Resources, dom0Resources, resourceDiff } from "./resources.js";

export type AdvMode = "frontend" | "backend";

export interface AdvRunOptions {
  readonly mode: AdvMode;
  /** The host (as `pvnet up` takes it); the adversary's domain is added to it. */
  readonly config: HostConfig;
  /** Case names; empty: none (random only). */
  readonly cases: readonly string[];
  readonly random?: { readonly n: number; readonly seed: number };
  readonly log?: (line: string) => void;
  /** Per case, ms before it counts as hung. */
  readonly caseTimeoutMs?: number;
  /**
   * The peer under test when it is not pvnet's own: frontend mode, a Domain-0 program (as
   * toolstack/dom0-program.ts: xenstored, the toolstack's vif writes, and the netback to
   * attack); backend mode, the victim guest's program (as adversary/victim.ts: the same
   * messages around the netfront to attack).
   */
  readonly peerProgram?: URL;
  /** Notified after each case (a live progress line). */
  readonly onCase?: (row: CaseRow) => void;
}

export interface GoodTraffic {
  readonly sent: number;
  readonly received: number;
}

export interface CaseRow {
  readonly name: string;
  readonly expected: string;
  readonly observed: Outcome | "error";
  readonly asExpected: boolean;
  /** The offending vif's backend (frontend mode) or the victim device's state (backend mode). */
  readonly vifState: string;
  /** Whether the attacked vif still passed a valid frame afterwards (null: not asked, as after a fatal). */
  readonly vifAlive: boolean | null;
  readonly detail: string;
  /** The good guests' pings and UDP echoes while the case ran. */
  readonly good: GoodTraffic;
  readonly resources: Dom0Resources;
  /** Differences from the baseline after teardown ("" when none). */
  readonly leaked: string;
  /** The adversary's own grants left published after the case. */
  readonly adversaryGrants: number;
  readonly error?: string;
}

export interface AdvResult {
  readonly mode: AdvMode;
  readonly baseline: Dom0Resources;
  readonly cases: CaseRow[];
  readonly random: (RandomTotals & { readonly good: GoodTraffic; readonly leaked: string }) | null;
  /** Every case as expected, nothing leaked, nothing hung, Domain-0 still running. */
  readonly ok: boolean;
}

export const ADVERSARY_NAME = "adversary";
const ADV_MAC = "00:16:3e:0a:dd:01";

/** The catalogue of a mode, without code. */
export function catalogue(mode: AdvMode): CaseInfo[] {
  const all: readonly CaseInfo[] = mode === "frontend" ? FRONTEND_CASES : BACKEND_CASES;
  return all.map(({ name, does, ref, expect }) => ({ name, does, ref, expect }));
}

/** `names` checked against the catalogue; "all" is every case. */
export function resolveCases(mode: AdvMode, names: readonly string[]): string[] {
  const known = catalogue(mode).map((c) => c.name);
  if (names.includes("all")) return known;
  for (const n of names)
    if (!known.includes(n)) throw new PvnetError("EINVAL", `no ${mode} case "${n}" (see --list)`);
  return [...names];
}

/** The host plus the adversary's guest (frontend) or the victim guest (backend). */
export function adversaryHost(config: HostConfig, mode: AdvMode): HostConfig {
  const guests = config.domains.slice(1);
  const bridgeOf = guests.flatMap((g) => g.vifs)[0]?.bridge ?? config.bridges[0]?.name;
  if (bridgeOf === undefined) throw new PvnetError("CONFIG", "the host has no bridge for the adversary");
  const domid = Math.max(...config.domains.map((d) => d.domid)) + 1;
  const extra: DomainConfig = {
    domid,
    name: mode === "frontend" ? ADVERSARY_NAME : "victim",
    memoryMiB: 32,
    pages: 32 * 256,
    vifs:
      mode === "frontend"
        ? [
            {
              devid: 0,
              mac: ADV_MAC,
              ip: undefined,
              bridge: bridgeOf,
              queues: 1,
              ringPageOrder: 0,
              features: ALL_VIF_FEATURES,
              trusted: true,
            },
          ]
        : [],
  };
  return { ...config, domains: [...config.domains, extra] };
}

function goodTraffic(s: HostStatus): GoodTraffic {
  let sent = 0;
  let received = 0;
  for (const p of s.pings) {
    sent += p.sent;
    received += p.received;
  }
  return { sent, received };
}

function minus(a: GoodTraffic, b: GoodTraffic): GoodTraffic {
  return { sent: a.sent - b.sent, received: a.received - b.received };
}

const STATUS_MS = 50;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runAdversary(o: AdvRunOptions): Promise<AdvResult> {
  const config = adversaryHost(o.config, o.mode);
  const guests = config.domains.slice(1);
  const advIndex = guests.length - 1;
  const advDomid = guests[advIndex]!.domid;
  const role = (i: number): AdvRole =>
    i !== advIndex
      ? { role: "good" }
      : o.mode === "frontend"
        ? { role: "front" }
        : { role: "victim", program: o.peerProgram?.href };
  const host = await Host.boot(config, {
    socketPath: null,
    ping: { count: 0, intervalMs: 50, timeoutMs: 500 },
    log: o.log,
    guestProgram: new URL("./guest.js", import.meta.url),
    guestExtra: role,
    dom0Program: o.mode === "backend" ? new URL("./back-dom0.js", import.meta.url) : o.peerProgram,
    statusMs: STATUS_MS,
    // The adversary's vif (or the victim's, against a malicious backend) connects on the
    // attacker's terms, case by case: boot must not wait for it.
    connectTimeoutMs: 0,
  });
  const waiters: ((r: AdvReport) => boolean)[] = [];
  host.machine.on("report", (_domid: number, data: unknown) => {
    const r = data as AdvReport | null;
    if (typeof r !== "object" || r === null || typeof r.t !== "string" || !r.t.startsWith("adv-")) return;
    const i = waiters.findIndex((w) => w(r));
    if (i >= 0) waiters.splice(i, 1);
  });
  const next = <T extends AdvReport["t"]>(t: T, ms: number): Promise<Extract<AdvReport, { t: T }> | null> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        resolve(null);
      }, ms);
      const w = (r: AdvReport): boolean => {
        if (r.t !== t) return false;
        clearTimeout(timer);
        resolve(r as Extract<AdvReport, { t: T }>);
        return true;
      };
      waiters.push(w);
    });
  // The program that plays the adversary: the malicious guest, or Domain-0's backend.
  const target = o.mode === "frontend" ? advDomid : 0;
  const send = (m: AdvCommand): void => host.machine.post(target, m);
  const rows: CaseRow[] = [];
  let random: AdvResult["random"] = null;
  let baseline: Dom0Resources = await dom0Resources(host);
  let ok = true;
  try {
    const hello = next("adv-ready", 10_000);
    send({ t: "adv-hello", victim: advDomid });
    const ready = await hello;
    if (ready === null) throw new PvnetError("ETIMEDOUT", "the adversary did not start within 10 s");
    if (ready.error !== undefined)
      throw new PvnetError("EIO", `the adversary could not start: ${ready.error}`);
    await settle(host);
    baseline = await dom0Resources(host);
    const infos = catalogue(o.mode);
    for (const name of o.cases) {
      const info = infos.find((c) => c.name === name)!;
      const g0 = goodTraffic(host.status());
      const t0 = Date.now();
      send({ t: "adv-case", name });
      const done = await next("adv-case-done", o.caseTimeoutMs ?? 20_000);
      // A short case still spans a few ping rounds, so "kept passing traffic" means something.
      const spent = Date.now() - t0;
      if (spent < 300) await sleep(300 - spent);
      await settle(host);
      const st = host.status();
      const res = await dom0Resources(host);
      const leaked = resourceDiff(baseline, res);
      const observed: Outcome | "error" = done?.outcome ?? "error";
      const alive = done?.vifAlive ?? null;
      const asExpected =
        done !== null &&
        done.error === undefined &&
        observed !== "error" &&
        info.expect.includes(observed) &&
        (observed === "fatal" || alive !== false) &&
        leaked === "";
      const row: CaseRow = {
        name,
        expected: expectedText(info.expect),
        observed,
        asExpected,
        vifState: vifState(o.mode, done?.detail ?? ""),
        vifAlive: alive,
        detail: done?.detail ?? "",
        good: minus(goodTraffic(st), g0),
        resources: res,
        leaked,
        adversaryGrants: done?.liveGrants ?? 0,
        ...(done === null
          ? { error: `no answer within ${o.caseTimeoutMs ?? 20_000} ms` }
          : done.error !== undefined
            ? { error: done.error }
            : {}),
      };
      rows.push(row);
      o.onCase?.(row);
      if (!asExpected) ok = false;
      if (done === null) break; // a hung adversary answers nothing more
    }
    if (o.random !== undefined) {
      const g0 = goodTraffic(host.status());
      send({ t: "adv-random", n: o.random.n, seed: o.random.seed });
      const done = await next("adv-random-done", Math.max(60_000, o.random.n / 2));
      await settle(host);
      const leaked = resourceDiff(baseline, await dom0Resources(host));
      const good = minus(goodTraffic(host.status()), g0);
      if (done === null || done.totals === null || leaked !== "") ok = false;
      random = {
        ...(done?.totals ?? { writes: 0, reconnects: 0, responses: 0, dropped: 0 }),
        good,
        leaked: done === null ? `no answer (${domainState(host, advDomid)})` : (done.error ?? leaked),
      };
    }
    const d0 = host.machine.status().find((d) => d.domid === 0);
    if (d0?.state !== "running") ok = false;
  } finally {
    await host.shutdown();
  }
  return { mode: o.mode, baseline, cases: rows, random, ok };
}

/** A domain's state and error, for a report on a hang. */
function domainState(host: Host, domid: number): string {
  const d = host.machine.status().find((x) => x.domid === domid);
  if (d === undefined) return `domain ${domid} gone`;
  return `domain ${domid} ${d.state}${d.error === undefined ? "" : `: ${JSON.stringify(d.error).slice(0, 300)}`}`;
}

/** Waits for Domain-0's status copy to catch up with the teardown just done. */
async function settle(host: Host): Promise<void> {
  let last = JSON.stringify(await dom0Resources(host));
  for (let i = 0; i < 20; i++) {
    await sleep(STATUS_MS * 2);
    const now = JSON.stringify(await dom0Resources(host));
    if (now === last && i >= 1) return;
    last = now;
  }
}

/** The attacked end's state during the case, as the adversary last read it. */
function vifState(mode: AdvMode, detail: string): string {
  const m = (mode === "frontend" ? /backend (\w+)/ : /device (\w+)/).exec(detail);
  return m?.[1] ?? "?";
}
