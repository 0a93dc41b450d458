/** Domain-0 of `pvnet bench xenstore`: the daemon, serving the guest's ring page. */
import type { Domain } from "../src/hv/domain.js";
import { Xenstored } from "../src/xenstore/daemon.js";
import { serveXenstore } from "../src/xenstore/domain-xenstored.js";

export default function main(dom: Domain): void {
  serveXenstore(dom, new Xenstored());
}
