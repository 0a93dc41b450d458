/**
 * Test guest playing a hostile frontend: once the backend is in InitWait it writes whatever
 * keys the machine gives it (garbage included) into its vif directory and switches to
 * Connected, then reports.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { MACHINE } from "../../../src/hv/worker-proto.js";
import { connectXenstore } from "../../../src/xenstore/domain-xenstored.js";
import { KEY_STATE, vifBackendPath, vifFrontendPath } from "../../../src/xenstore/keys.js";
import { waitForState, XenbusState } from "../../../src/xenstore/xenbus.js";

export interface RudeMsg {
  t: "go";
  devid: number;
  keys: Record<string, string>;
  /** Grant this many pages to Domain-0 first and put their refs in keys named "$0", "$1"... */
  grants?: number;
  /** Allocate an unbound port for Domain-0 and put it in keys valued "$port". */
  port?: boolean;
}

export default async function main(dom: Domain): Promise<void> {
  const xs = await connectXenstore(dom);
  dom.onMessage((from, data) => {
    if (from !== MACHINE) return;
    const m = data as RudeMsg;
    void (async () => {
      const dir = vifFrontendPath(dom.domid, m.devid);
      await waitForState(
        xs,
        `${vifBackendPath(0, dom.domid, m.devid)}/${KEY_STATE}`,
        (s) => s === XenbusState.InitWait,
        {
          timeoutMs: 3000,
        },
      );
      const refs: number[] = [];
      for (let i = 0; i < (m.grants ?? 0); i++)
        refs.push(dom.grants.grantAccess(0, dom.pages.alloc(), false));
      const port = m.port ? await dom.evtchnAllocUnbound(0) : 0;
      await xs.transaction(async (tx) => {
        for (const [k, v] of Object.entries(m.keys)) {
          const val = v === "$port" ? String(port) : /^\$\d+$/.test(v) ? String(refs[Number(v.slice(1))]) : v;
          await tx.write(`${dir}/${k}`, val);
        }
      });
      // Initialised first, as some frontends do: a Linux backend ignores it and waits for 4.
      await xs.write(`${dir}/${KEY_STATE}`, String(XenbusState.Initialised));
      await new Promise((r) => setTimeout(r, 50));
      const backendAt3 = await xs.read(`${vifBackendPath(0, dom.domid, m.devid)}/${KEY_STATE}`);
      await xs.write(`${dir}/${KEY_STATE}`, String(XenbusState.Connected));
      dom.report({ t: "done", refs, port, backendAt3, liveGrants: dom.grants.liveGrants });
    })().catch((e: Error) => dom.report({ t: "error", message: e.message }));
  });
}
