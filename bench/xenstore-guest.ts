/** The guest of `pvnet bench xenstore`: runs the workload over its ring and reports the rates. */
import type { Domain } from "../src/hv/domain.js";
import { connectXenstore } from "../src/xenstore/domain-xenstored.js";
import { runXsLoad, type XsLoadArgs } from "./xenstore-load.js";

export default async function main(dom: Domain, args: unknown): Promise<void> {
  const c = await connectXenstore(dom);
  void runXsLoad(c, args as XsLoadArgs).then(
    (rates) => dom.report({ t: "xs-bench", rates }),
    (e: Error) => dom.report({ t: "xs-bench-failed", message: e.message }),
  );
}
