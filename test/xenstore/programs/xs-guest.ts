/**
 * Test program for a guest: connects to Domain-0's xenstored over its ring page, does
 * relative and absolute reads and writes, a transaction, a forbidden read and a watch,
 * and reports what it saw.
 */
import { PvnetError } from "../../../src/base/errors.js";
import type { Domain } from "../../../src/hv/domain.js";
import type { XsClient } from "../../../src/xenstore/client.js";
import { connectXenstore } from "../../../src/xenstore/domain-xenstored.js";

export default async function main(dom: Domain): Promise<void> {
  const xs = await connectXenstore(dom);
  void run(dom, xs).catch((e: Error) => dom.report({ t: "error", message: e.message }));
}

async function run(dom: Domain, xs: XsClient): Promise<void> {
  const home = await xs.getDomainPath(dom.domid);
  await xs.write("data/x", "hello");
  const r = {
    home,
    domid: await xs.read("domid"),
    rel: await xs.read("data/x"),
    abs: await xs.read(`${home}/data/x`),
    dir: await xs.directory("data"),
    secret: await xs.read("/secret").then(
      () => "readable",
      (e: unknown) => (e instanceof PvnetError ? e.code : String(e)),
    ),
    txn: "",
    initial: "",
  };
  await xs.transaction(async (tx) => {
    await tx.write("data/t1", "1");
    await tx.write("data/t2", await tx.read("data/x"));
  });
  r.txn = `${await xs.read("data/t1")},${await xs.read("data/t2")}`;
  const w = await xs.watch("data/w", "tok");
  const it = w[Symbol.asyncIterator]();
  r.initial = (await it.next()).value?.path ?? "";
  dom.report({ t: "watching", r });
  const ev = await it.next();
  dom.report({ t: "watch-fired", path: ev.value?.path, token: ev.value?.token });
}
