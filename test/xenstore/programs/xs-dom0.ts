/**
 * Test program for Domain-0: runs Xenstored, serves guests' ring pages, keeps a dom0-only
 * node, reports every @releaseDomain event, and writes nodes when the machine asks.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { MACHINE } from "../../../src/hv/worker-proto.js";
import { Xenstored } from "../../../src/xenstore/daemon.js";
import { serveXenstore } from "../../../src/xenstore/domain-xenstored.js";

export default async function main(dom: Domain): Promise<void> {
  const xs = new Xenstored({ log: () => {} });
  let tool: { write(path: string, value: string): Promise<void> } | undefined;
  const svc = serveXenstore(dom, xs, {
    log: () => {},
    next: (from, data) => {
      const m = data as { t?: string; path?: string; value?: string; domid?: number; port?: number };
      if (from === MACHINE && m.t === "introduce" && tool !== undefined) {
        // What `xl` does: make the guest's home, then XS_INTRODUCE it.
        const home = `/local/domain/${m.domid}`;
        const t = tool as unknown as {
          mkdir(p: string): Promise<void>;
          setPerms(p: string, perms: { letter: string; domid: number }[]): Promise<void>;
          introduce(domid: number, gfn: number, evtchn: number): Promise<void>;
        };
        t.mkdir(home)
          .then(() => t.setPerms(home, [{ letter: "n", domid: Number(m.domid) }]))
          .then(() => t.introduce(Number(m.domid), 0, Number(m.port)))
          .then(() => dom.report({ t: "introduced" }))
          .catch((e: Error) => dom.report({ t: "error", message: e.message }));
        return;
      }
      if (from === MACHINE && m.t === "stats") {
        dom.report({ t: "stats", maps: dom.gnt.liveMappings, guests: [...svc.guests.keys()] });
        return;
      }
      if (from !== MACHINE || m.t !== "write" || tool === undefined) return;
      tool
        .write(String(m.path), String(m.value))
        .then(() => dom.report({ t: "written", path: m.path }))
        .catch((e: Error) => dom.report({ t: "error", message: e.message }));
    },
  });
  tool = svc.toolstack;
  await svc.toolstack.write("/secret", "dom0 only");
  const released = await svc.toolstack.watch("@releaseDomain");
  void (async () => {
    for await (const ev of released) dom.report({ t: "release-event", path: ev.path });
  })();
}
