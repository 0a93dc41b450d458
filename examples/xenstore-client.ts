/**
 * A xenstore client against an in-process xenstored on a temporary unix socket: writes
 * and reads a device's keys, lists a directory, sets permissions, commits a transaction,
 * and follows a watch. Point `XsClient.connect` at a real xenstored's socket (or at
 * `pvnet xenstored --socket PATH`) and the same calls work there.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vifBackendPath, Xenstored, XsClient, XsSocketServer } from "pvnet/xenstore";

const dir = await mkdtemp(join(tmpdir(), "pvnet-xs-"));
const server = await XsSocketServer.listen(new Xenstored(), join(dir, "socket"));
const xs = await XsClient.connect(server.path);
try {
  const be = vifBackendPath(0, 1, 0); // Domain-0's backend directory for guest 1's vif 0
  await xs.write(`${be}/mac`, "00:16:3e:00:00:01");
  await xs.write(`${be}/state`, "1");
  console.log(`read ${be}/mac = ${await xs.read(`${be}/mac`)}`);
  console.log(`ls ${be} = ${(await xs.directory(be)).join(" ")}`);

  await xs.setPerms(be, [
    { letter: "n", domid: 0 },
    { letter: "r", domid: 1 },
  ]);
  const perms = await xs.getPerms(be);
  console.log(`perms ${be} = ${perms.map((p) => `${p.letter}${p.domid}`).join(" ")}`);

  // The first event is the watch firing once at registration; the next is our write.
  const watch = await xs.watch(`${be}/state`);
  const events: string[] = [];
  const seen = (async () => {
    for await (const ev of watch) {
      events.push(ev.path);
      if (events.length === 2) break; // leaving the loop unregisters the watch
    }
  })();
  await xs.transaction(async (tx) => {
    const state = Number(await tx.read(`${be}/state`));
    await tx.write(`${be}/state`, String(state + 1));
  });
  await seen;
  console.log(`watch fired ${events.length} times; state is now ${await xs.read(`${be}/state`)}`);
} finally {
  xs.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
