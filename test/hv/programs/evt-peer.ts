/**
 * Test program for machine.test.ts. role "back": binds whatever port a guest offers, echoes
 * every event, maps the grants it is given, and answers "status" with its counters.
 * role "guest": offers a port, sends `rounds` events one at a time (waiting for each
 * echo), and can close its port or try bad hypercalls on request.
 */
import { PvnetError } from "../../../src/base/errors.js";
import type { Domain } from "../../../src/hv/domain.js";
import { SIDE_PENDING, SIDE_SEL, SIDE_WAKE, sideBase } from "../../../src/hv/evtchn.js";
import { MACHINE } from "../../../src/hv/worker-proto.js";

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const args = raw as { role: "back" | "guest"; rounds?: number };
  if (args.role === "back") back(dom);
  else await guest(dom, args.rounds ?? 0);
}

function back(dom: Domain): void {
  let echoes = 0;
  let seen = 0;
  const echoesFrom = new Map<number, number>();
  // A synchronous handler that throws on one message: the next handler still gets it.
  dom.onMessage((_from, data) => {
    if ((data as { t?: unknown } | null)?.t === "boom") throw new Error("boom");
  });
  const closed: number[] = [];
  const destroyed: number[] = [];
  const bound = new Map<number, number>();
  dom.onPeerClosed((p) => closed.push(p));
  dom.onDomainDestroyed((d) => destroyed.push(d));
  dom.onMessage(async (from, data) => {
    seen++;
    const m = data as { t: string; port?: number; refs?: number[] };
    if (m.t === "offer" && m.port !== undefined) {
      // A bad port makes this reject: an async handler's rejection must not kill dom0.
      const local = await dom.evtchnBindInterdomain(from, m.port);
      bound.set(from, local);
      dom.evtchn.on(local, (p) => {
        echoes++;
        echoesFrom.set(from, (echoesFrom.get(from) ?? 0) + 1);
        dom.evtchn.send(p);
      });
      dom.post(from, { t: "bound" });
    } else if (m.t === "map" && m.refs !== undefined) {
      const st = m.refs.map((r) => dom.gnt.map(from, r, true));
      dom.post(from, { t: "mapped", st });
    } else if (m.t === "status") {
      dom.post(from === MACHINE ? MACHINE : from, {
        t: "status",
        echoes,
        closed,
        destroyed,
        liveMappings: dom.gnt.liveMappings,
        spurious: dom.evtchn.stats.spurious,
        seen,
        handlerErrors: dom.handlerErrors,
        bound: Object.fromEntries(bound),
        echoesFrom: Object.fromEntries(echoesFrom),
      });
    }
  });
}

async function guest(dom: Domain, rounds: number): Promise<void> {
  const port = await dom.evtchnAllocUnbound(0);
  let got = 0;
  dom.evtchn.on(port, () => {
    got++;
    if (got < rounds) dom.evtchn.send(port);
    else dom.report({ t: "rounds-done", got });
  });
  dom.onMessage(async (_from, data) => {
    const m = data as { t: string; pages?: number; st?: number[]; port?: number };
    if (m.t === "bound" && rounds > 0) dom.evtchn.send(port);
    else if (m.t === "grant") {
      const refs: number[] = [];
      for (let i = 0; i < (m.pages ?? 0); i++) refs.push(dom.grants.grantAccess(0, dom.pages.alloc(), true));
      dom.post(0, { t: "map", refs });
    } else if (m.t === "mapped") dom.report({ t: "mapped", st: m.st });
    else if (m.t === "close") {
      await dom.evtchnClose(port);
      dom.report({ t: "closed" });
    } else if (m.t === "bad-bind") {
      try {
        await dom.evtchnBindInterdomain(0, 4000);
        dom.report({ t: "bad-bind", code: "none" });
      } catch (e) {
        dom.report({ t: "bad-bind", code: e instanceof PvnetError ? e.code : "not-a-PvnetError" });
      }
    } else if (m.t === "forge") {
      // A hostile guest sets pending bits for dom0 ports 2..64, none bound to it, and wakes dom0.
      const w = dom.evtchn.sides[0].w;
      const base = sideBase(0, dom.domid);
      for (let p = 2; p <= 64; p++) Atomics.or(w, base + SIDE_PENDING + (p >>> 5), 1 << (p & 31));
      Atomics.or(w, base + SIDE_SEL, 0b111);
      Atomics.add(w, base + SIDE_WAKE, 1);
      Atomics.notify(w, base + SIDE_WAKE);
      dom.report({ t: "forged" });
    } else if (m.t === "forge-port" && m.port !== undefined) {
      // Sets the pending bit of one dom0 port (bound to another guest) in dom0's side of
      // our link, selects it and wakes dom0, a few times over.
      const w = dom.evtchn.sides[0].w;
      const base = sideBase(0, dom.domid);
      const p = m.port;
      for (let i = 0; i < 5; i++) {
        Atomics.or(w, base + SIDE_PENDING + (p >>> 5), 1 << (p & 31));
        Atomics.or(w, base + SIDE_SEL + (p >>> 10), 1 << ((p >>> 5) & 31));
        Atomics.add(w, base + SIDE_WAKE, 1);
        Atomics.notify(w, base + SIDE_WAKE);
        await new Promise((r) => setTimeout(r, 5));
      }
      dom.report({ t: "forged-port" });
    } else if (m.t === "hostile-msgs") {
      // Messages that make dom0's handlers throw (sync) and reject (async).
      dom.post(0, { t: "boom" });
      dom.post(0, { t: "offer", port: 4000 });
      dom.post(0, { t: "offer", port: -1 });
      dom.report({ t: "hostile-sent" });
    }
  });
  dom.post(0, { t: "offer", port });
}
