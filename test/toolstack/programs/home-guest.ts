/**
 * Test guest for the home's permissions: once Domain-0 has written its name and vif, it
 * tries to remove or overwrite what libxl keeps read-only to it and to write where libxl
 * lets it, and reports each outcome ("ok" or the error code).
 */
import { PvnetError } from "../../../src/base/errors.js";
import type { Domain } from "../../../src/hv/domain.js";
import { connectXenstore } from "../../../src/xenstore/domain-xenstored.js";

export default async function main(dom: Domain): Promise<void> {
  const xs = await connectXenstore(dom);
  const outcome = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => "ok",
      (e: unknown) => (e instanceof PvnetError ? e.code : String(e)),
    );
  void (async () => {
    const home = `/local/domain/${dom.domid}`;
    for (let i = 0; i < 200 && !(await xs.exists(`${home}/device/vif/0/state`)); i++)
      await new Promise((r) => setTimeout(r, 10));
    // As a log line: the host passes it to its log callback, whenever it comes.
    const r = {
      t: "home",
      rmName: await outcome(xs.rm(`${home}/name`)),
      rmDomid: await outcome(xs.rm(`${home}/domid`)),
      writeName: await outcome(xs.write(`${home}/name`, "evil")),
      rmHome: await outcome(xs.rm(home)),
      newKey: await outcome(xs.write(`${home}/mine`, "1")),
      writeDevice: await outcome(xs.write(`${home}/device/new`, "1")),
      writeVif: await outcome(xs.write(`${home}/device/vif/0/x`, "1")),
      writeData: await outcome(xs.write(`${home}/data/x`, "1")),
      writeShutdown: await outcome(xs.write(`${home}/control/shutdown`, "")),
      writeError: await outcome(xs.write(`${home}/error/x`, "1")),
      name: await xs.read(`${home}/name`).catch(() => "(gone)"),
      domid: await xs.read(`${home}/domid`).catch(() => "(gone)"),
    };
    dom.report({ t: "log", line: JSON.stringify(r) });
  })();
}
