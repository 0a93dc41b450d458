/**
 * A frontend and a backend over one shared ring, as Xen's split drivers talk. The guest
 * grants a ring page to Domain-0, allocates an event channel and posts both to Domain-0;
 * Domain-0 maps the page, binds the channel and answers every request with its value
 * doubled. This one file is the main program (it boots the machine) and the domains'
 * program (its default export runs in each domain's worker thread).
 */
import { isMainThread } from "node:worker_threads";
import { type Domain, Machine, PAGE_SIZE } from "pvnet/hv";
import { BackRing, FrontRing, RingArea, ringErrorText } from "pvnet/ring";
import { privateMem } from "pvnet/wire";

const ENTRY = 8; // a request and a response are both two 32-bit words: id, value
const COUNT = 1000;
const BATCH = 32;

export default async function main(dom: Domain): Promise<void> {
  if (dom.domid === 0) backend(dom);
  else await frontend(dom);
}

function backend(dom: Domain): void {
  // A guest's message is untrusted: a bad one costs that guest its connection, nothing more.
  dom.onMessage((guest, msg) => {
    connect(dom, guest, msg).catch((e: Error) => dom.report(`guest ${guest} refused: ${e.message}`));
  });
}

async function connect(dom: Domain, guest: number, msg: unknown): Promise<void> {
  const { ref, port } = msg as { ref: unknown; port: unknown };
  if (typeof ref !== "number" || typeof port !== "number") throw new Error("expected { ref, port }");
  const h = dom.gnt.map(guest, ref, false);
  if (h < 0) throw new Error(`cannot map gref ${ref}: GNTST ${h}`);
  const ring = BackRing.attach(new RingArea(dom.gnt.mappedMem(h), [dom.gnt.mappedOff(h)], ENTRY));
  if (typeof ring === "number") {
    dom.gnt.unmap(h);
    throw new Error(ringErrorText(ring));
  }
  const local = await dom.evtchnBindInterdomain(guest, port).catch((e: unknown) => {
    dom.gnt.unmap(h);
    throw e;
  });
  const req = privateMem(BATCH * ENTRY); // requests are copied out of shared memory before use
  const serve = (): void => {
    for (;;) {
      const n = ring.copyRequests(req, 0, BATCH);
      if (n < 0) {
        // The guest wrote an impossible producer index: stop serving it, and say why.
        dom.evtchn.off(local);
        dom.report(`guest ${guest}: ${ringErrorText(n)}`);
        return;
      }
      if (n === 0 && !ring.finalCheckForRequests()) break;
      for (let i = 0; i < n; i++) {
        const at = ring.beginResponse() >>> 2;
        ring.wmem.u32[at] = req.u32[i * 2];
        ring.wmem.u32[at + 1] = req.u32[i * 2 + 1] * 2;
        ring.endResponse();
      }
      if (ring.pushResponsesAndCheckNotify()) dom.evtchn.send(local);
    }
  };
  dom.evtchn.on(local, serve);
  serve(); // requests written before we bound the channel raised no event
}

async function frontend(dom: Domain): Promise<void> {
  const page = dom.pages.alloc();
  const ref = dom.grants.grantAccess(0, page, false);
  const front = FrontRing.init(new RingArea(dom.memory.mem, [page * PAGE_SIZE], ENTRY));
  const port = await dom.evtchnAllocUnbound(0);
  const rsp = privateMem(BATCH * ENTRY);
  let sent = 0;
  let answered = 0;
  let doubled = 0;
  const pump = (): void => {
    for (;;) {
      const n = front.copyResponses(rsp, 0, BATCH);
      if (n < 0) {
        dom.report(ringErrorText(n));
        return;
      }
      for (let i = 0; i < n; i++) if (rsp.u32[i * 2 + 1] === rsp.u32[i * 2] * 2) doubled++;
      answered += n;
      if (n === 0 && !front.finalCheckForResponses()) break;
    }
    for (; sent < COUNT && !front.isFull(); sent++) {
      const at = front.beginRequest() >>> 2;
      front.wmem.u32[at] = sent;
      front.wmem.u32[at + 1] = sent;
      front.endRequest();
    }
    if (front.pushRequestsAndCheckNotify()) dom.evtchn.send(port);
    if (answered === COUNT)
      dom.report(`${answered} requests answered over a ${front.area.nrEnts}-slot ring, ${doubled} doubled`);
  };
  dom.evtchn.on(port, pump);
  dom.post(0, { ref, port });
  pump();
}

if (isMainThread) {
  const m = new Machine();
  const result = new Promise((resolve, reject) => {
    m.on("report", (_domid, text) => resolve(text));
    m.on("domain-failed", (domid, error) => reject(new Error(`domain ${domid}: ${error.message}`)));
  });
  await m.createDomain({ name: "Domain-0", pages: 16, program: import.meta.url });
  await m.createDomain({ name: "guest", pages: 16, program: import.meta.url });
  console.log(await result);
  await m.shutdown();
}
