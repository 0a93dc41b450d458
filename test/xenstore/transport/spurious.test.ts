import assert from "node:assert/strict";
import { test } from "node:test";
import { sharedMem } from "../../../src/wire/mem.js";
import { XsClient } from "../../../src/xenstore/client.js";
import { Xenstored } from "../../../src/xenstore/daemon.js";
import { domainPath } from "../../../src/xenstore/keys.js";
import { XsRingServer } from "../../../src/xenstore/transport/domain-ring.js";
import { loopbackTransport } from "../../../src/xenstore/transport/loopback.js";
import { XsRingTransport } from "../../../src/xenstore/transport/ring-client.js";

const PAGE_AT = 4096;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test("xenstore ring kicks: nothing new is spurious at both ends; a request, a reply and a consumption are news", async () => {
  const daemon = new Xenstored({ log: () => {} });
  const tool = new XsClient(loopbackTransport(daemon));
  await tool.mkdir(domainPath(5));
  await tool.setPerms(domainPath(5), [{ letter: "n", domid: 5 }]);
  await tool.write(`${domainPath(5)}/name`, "g");
  daemon.introduceDomain(5);
  const m = sharedMem(PAGE_AT + 4096);
  // Events are delivered by hand below: each kick is one event, and what it returns is checked.
  const server = new XsRingServer(daemon, { m, at: PAGE_AT, domid: 5, notify: () => {} });
  const transport = new XsRingTransport({ m, at: PAGE_AT, notify: () => {} });
  const client = new XsClient(transport);
  server.kick();
  transport.kick();
  assert.equal(server.kick(), false, "the server: nothing to read, write or see consumed");
  assert.equal(transport.kick(), false, "the client: likewise");
  const read = client.read(`${domainPath(5)}/name`);
  assert.equal(server.kick(), true, "a request came in");
  let more = 0;
  for (let i = 0; i < 5; i++) {
    await tick();
    if (server.kick()) more++;
  }
  assert.ok(more <= 1, "the reply, if written late, is news once");
  assert.equal(server.kick(), false);
  assert.equal(transport.kick(), true, "the reply came in");
  assert.equal(await read, "g");
  assert.equal(server.kick(), true, "the guest took the reply (xs_wire.h: it notifies for that)");
  assert.equal(server.kick(), false);
  assert.equal(transport.kick(), false);
});
