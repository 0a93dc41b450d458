/**
 * Domain-0's program under `pvnet adversary backend`: pvnet's own Domain-0 (xenstored,
 * switches, netback for the good guests), plus a malicious backend for the victim guest's
 * extra netfront, driven case by case by the runner's commands.
 */
import type { Domain } from "../hv/domain.js";
import { MACHINE } from "../hv/worker-proto.js";
import dom0 from "../toolstack/dom0-program.js";
import type { Dom0Args } from "../toolstack/host-proto.js";
import { BACKEND_CASES } from "./backend-cases.js";
import { backendRandom } from "./backend-random.js";
import type { AdvCommand, AdvReport } from "./proto.js";
import { RawBack } from "./raw-back.js";
import type { VictimReply } from "./victim.js";

export default async function main(dom: Domain, args: Dom0Args): Promise<void> {
  await dom0(dom, args);
  const report = (r: AdvReport): void => dom.report(r);
  let back: RawBack | null = null;
  let chain: Promise<void> = Promise.resolve();
  dom.onMessage((from, data) => {
    if (from === MACHINE) {
      const m = data as AdvCommand;
      chain = chain.then(() => run(m));
    } else if (back !== null && from === back.victim) back.onReply(data as VictimReply);
  });
  const run = async (m: AdvCommand): Promise<void> => {
    if (m.t === "adv-hello") {
      if (typeof m.victim !== "number") return report({ t: "adv-ready", error: "no victim named" });
      back = new RawBack(dom, m.victim);
      return report({ t: "adv-ready" });
    }
    if (back === null) return;
    if (m.t === "adv-case") {
      const c = BACKEND_CASES.find((x) => x.name === m.name);
      const base = { t: "adv-case-done" as const, name: m.name, liveGrants: 0 };
      if (c === undefined)
        return report({ ...base, outcome: null, detail: "", vifAlive: null, error: "no case" });
      try {
        const o = await c.run(back);
        report({ ...base, outcome: o.outcome, detail: o.detail, vifAlive: o.vifAlive });
      } catch (e) {
        await back.close().catch(() => undefined);
        report({ ...base, outcome: null, detail: "", vifAlive: null, error: errText(e) });
      }
    } else if (m.t === "adv-random") {
      try {
        report({ t: "adv-random-done", totals: await backendRandom(back, m.n, m.seed) });
      } catch (e) {
        await back.close().catch(() => undefined);
        report({ t: "adv-random-done", totals: null, error: errText(e) });
      }
    }
  };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
