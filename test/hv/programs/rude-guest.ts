/**
 * Test program for machine.test.ts: a guest whose worker posts whatever a hostile guest
 * can post to the machine through its own port, bypassing the Domain API. role "rude":
 * on {t:"spew"} from the machine, posts the list below, then reports how many of them the
 * machine must refuse, then checks its own hypercalls still work. role "listen": reports
 * every control message it gets, so a test can see what reached it. role "bad-shutdown":
 * a shutdown hook that throws, then one that reports.
 */
import { parentPort } from "node:worker_threads";
import type { Domain } from "../../../src/hv/domain.js";
import { MACHINE } from "../../../src/hv/worker-proto.js";

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const args = raw as { role: "rude" | "listen" | "bad-shutdown" };
  if (args.role === "bad-shutdown") {
    dom.onShutdown(() => {
      throw new Error("shutdown hook bug");
    });
    dom.onShutdown(() => dom.report({ t: "second-hook-ran" }));
    return;
  }
  if (args.role === "listen") {
    dom.onMessage((from, data) => dom.report({ t: "got", from, data }));
    return;
  }
  dom.onMessage(async (from, data) => {
    const m = data as { t: string; other: number };
    if (from !== MACHINE || m.t !== "spew") return;
    const port = parentPort!;
    // Each of these must be dropped and counted.
    const refused: unknown[] = [
      null,
      undefined,
      42,
      "ready",
      [],
      {},
      { t: 5 },
      { t: "__proto__" },
      { t: "x".repeat(1 << 20) },
      { t: "hcall" },
      { t: "hcall", id: 1, op: "evtchn_close", args: null },
      { t: "hcall", id: "x", op: "evtchn_status", args: { port: 1 } },
      { t: "hcall", id: -1, op: "evtchn_status", args: { port: 1 } },
      { t: "hcall", id: 2, op: "evtchn_alloc_unbound", args: { remoteDom: "0" } },
      { t: "hcall", id: 3, op: "x".repeat(16 << 20), args: {} },
      { t: "hcall", id: 4, op: "toString", args: {} },
      { t: "msg" },
      { t: "msg", to: "0", data: 1 },
      { t: "msg", to: m.other, data: "from the rude guest" },
      { t: "failed", error: { code: "EFORGED", message: "forged failure" } },
      { t: "failed" },
      { t: "ready" },
    ];
    for (const x of refused) port.postMessage(x);
    // Said once, a "stopped" is allowed (the worker is on its way out); twice is not.
    port.postMessage({ t: "stopped" });
    port.postMessage({ t: "stopped" });
    // A report is free-form, big or not.
    port.postMessage({ t: "report", data: { t: "big", s: "y".repeat(8 << 20) } });
    const ownPort = await dom.evtchnAllocUnbound(0);
    dom.report({ t: "spewed", refused: refused.length + 1, ownPort });
  });
}
