import type { Domain } from "../hv/domain.js";
import dom0 from "../toolstack/dom0-program.js";
import type { Dom0Args } from "../toolstack/host-proto.js";

export default async function main(dom: Domain, args: Dom0Args): Promise<void> {
  await dom0(dom, args);
}
