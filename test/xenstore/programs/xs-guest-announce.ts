/**
 * Test guest for the XS_INTRODUCE path: it gives its xenstore port to the toolstack (the
 * machine, through a report) instead of asking Domain-0, writes at once (the request waits
 * in the ring until Domain-0 is told to serve it), reads back and reports.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { connectXenstore } from "../../../src/xenstore/domain-xenstored.js";

export default async function main(dom: Domain): Promise<void> {
  const c = await connectXenstore(dom, { announce: (port) => dom.report({ t: "store-port", port }) });
  void (async () => {
    try {
      const w = c.write("data/hello", "world");
      dom.report({ t: "queued" }); // the write is in the ring now, waiting for a server
      await w;
      dom.report({ t: "result", value: await c.read("data/hello"), home: await c.getDomainPath(dom.domid) });
    } catch (e) {
      dom.report({ t: "result", error: (e as Error).message });
    }
  })();
}
