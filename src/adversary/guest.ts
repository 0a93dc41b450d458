/**
 * The guests' program on an adversary host (HostOptions.guestProgram): by its role, pvnet's
 * own guest program (a good guest), the malicious frontend (which drives its vif by hand,
 * one case at a time as the runner asks), or the victim of a malicious backend.
 */
import type { Domain } from "../hv/domain.js";
import { MACHINE } from "../hv/worker-proto.js";
import type { GuestArgs } from "../toolstack/host-proto.js";
import { connectXenstore } from "../xenstore/domain-xenstored.js";
import { KEY_BACKEND, vifFrontendPath } from "../xenstore/keys.js";
import { FRONTEND_CASES } from "./frontend-cases.js";
import { frontendRandom } from "./frontend-random.js";
import type { AdvCommand, AdvReport, AdvRole } from "./proto.js";
import { RawFront, sleep } from "./raw-front.js";

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const extra = args.extra as AdvRole | null;
  const role = extra?.role ?? "good";
  if (role === "good") {
    const good = await import("../toolstack/guest-program.js");
    return good.default(dom, args);
  }
  if (role === "victim") {
    const program = extra?.role === "victim" ? extra.program : undefined;
    const victim = (await import(program ?? "./victim.js")) as {
      default: (d: Domain, a: GuestArgs) => Promise<void>;
    };
    return victim.default(dom, args);
  }
  return frontMain(dom, args);
}

async function frontMain(dom: Domain, args: GuestArgs): Promise<void> {
  const report = (r: AdvReport): void => dom.report(r);
  const xs = await connectXenstore(dom);
  const devid = args.vifs[0]?.vif.devid ?? 0;
  const f = new RawFront(dom, xs, devid);
  // main returns at once (the machine counts the guest started when it does); the vif is
  // set up meanwhile, and adv-hello waits for it.
  const setup = (async (): Promise<string | undefined> => {
    try {
      // The toolstack writes the device just after the guest starts.
      const end = Date.now() + 5000;
      const path = `${vifFrontendPath(dom.domid, devid)}/${KEY_BACKEND}`;
      while ((await xs.read(path).catch(() => "")) === "") {
        if (Date.now() > end) throw new Error(`no vif ${devid} written within 5 s`);
        await sleep(10);
      }
      await f.init();
      return undefined;
    } catch (e) {
      return errText(e);
    }
  })();
  let base = 0;
  // One command at a time: each case owns the connection from start to end.
  let chain: Promise<void> = Promise.resolve();
  dom.onMessage((from, data) => {
    if (from !== MACHINE) return;
    const m = data as AdvCommand;
    chain = chain.then(async () => {
      const error = await setup;
      if (m.t === "adv-hello") {
        base = dom.grants.liveGrants;
        report(error === undefined ? { t: "adv-ready" } : { t: "adv-ready", error });
      } else if (error === undefined) await run(m);
    });
  });
  const run = async (m: AdvCommand): Promise<void> => {
    if (m.t === "adv-case") {
      const c = FRONTEND_CASES.find((x) => x.name === m.name);
      if (c === undefined) {
        report({ ...noCase(m.name), error: `no case ${m.name}` });
        return;
      }
      try {
        const o = await c.run(f);
        report({
          t: "adv-case-done",
          name: c.name,
          outcome: o.outcome,
          detail: o.detail,
          vifAlive: o.vifAlive,
          liveGrants: dom.grants.liveGrants - base,
        });
      } catch (e) {
        // Back to a clean start for the next case, whatever state this one left.
        await f.disconnect().catch(() => undefined);
        report({ ...noCase(c.name), liveGrants: dom.grants.liveGrants - base, error: errText(e) });
      }
    } else if (m.t === "adv-random") {
      try {
        const totals = await frontendRandom(f, m.n, m.seed);
        report({ t: "adv-random-done", totals });
      } catch (e) {
        // No disconnect here: what failed may be the xenstore connection it needs.
        report({ t: "adv-random-done", totals: null, error: errText(e) });
      }
    }
  };
  dom.onShutdown(() => xs.close());
}

function noCase(name: string): Extract<AdvReport, { t: "adv-case-done" }> {
  return { t: "adv-case-done", name, outcome: null, detail: "", vifAlive: null, liveGrants: 0 };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
