/**
 * Test program for a guest that asks to be introduced without granting its xenstore page:
 * Domain-0 must refuse, and say why.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { XS_MSG_INTRODUCE } from "../../../src/xenstore/domain-xenstored.js";

export default async function main(dom: Domain): Promise<void> {
  const port = await dom.evtchnAllocUnbound(0);
  dom.onMessage((from, data) => dom.report({ t: "answer", from, data }));
  dom.post(0, { t: XS_MSG_INTRODUCE, port });
}
