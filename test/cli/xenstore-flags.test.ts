/**
 * xenstore-utils' flags that pvnet's tools took late: rm -t (tidy empty parents) and
 * chmod -u (the parents too), against our daemon; and, where Debian's tools are
 * installed, the same operations by the real tools leave the same tree.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type ToolIo, toolChmod, toolLs, toolRm } from "../../src/cli/xenstore-tools.js";
import { XsClient } from "../../src/xenstore/client.js";
import { Xenstored } from "../../src/xenstore/daemon.js";
import { XsSocketServer } from "../../src/xenstore/transport/socket.js";

const dir = mkdtempSync(join(tmpdir(), "pvnet-xs-flags-"));
const sock = join(dir, "xs.sock");
let server: XsSocketServer;
let client: XsClient;
const REAL = spawnSync("xenstore-rm", [], { stdio: "ignore" }).error === undefined;

before(async () => {
  server = await XsSocketServer.listen(new Xenstored(), sock, { log: () => {} });
  client = await XsClient.connect(sock);
});
after(async () => {
  client?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const quiet: ToolIo = { out: () => {}, err: () => {}, width: 80 };

async function tree(path: string): Promise<string> {
  let out = "";
  await toolLs(
    client,
    path,
    { perms: true, full: true },
    { out: (s) => (out += s), err: () => {}, width: 80 },
  );
  return out;
}

function realTool(tool: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn(`xenstore-${tool}`, args, { env: { PATH: process.env.PATH, XENSTORED_PATH: sock } });
    p.on("error", reject);
    p.on("close", resolve);
  });
}

/** Builds a tree where rm -t has empty parents to tidy and one that must stay. */
async function seed(root: string): Promise<void> {
  await client.write(`${root}/keep`, "v");
  await client.write(`${root}/a/b/c/leaf`, "x");
  await client.write(`${root}/a/valued`, "");
  await client.write(`${root}/a`, "has a value");
}

test("rm -t removes the key, then each parent left empty with an empty value", async () => {
  await seed("/t1");
  assert.equal(await toolRm(client, ["/t1/a/b/c/leaf"], quiet, { tidy: true }), 0);
  // c and b went (empty, no value); a stays (it has a value and a child).
  assert.equal(await client.exists("/t1/a/b"), false);
  assert.equal(await client.exists("/t1/a"), true);
  assert.equal(await toolRm(client, ["/t1/a/valued"], quiet, { tidy: true }), 0);
  assert.equal(await client.exists("/t1/a"), true, "a parent with a value stays");
  await client.write("/t2/x/y", "1");
  assert.equal(await toolRm(client, ["/t2/x/y"], quiet), 0);
  assert.equal(await client.exists("/t2/x"), true, "without -t the parents stay");
  if (!REAL) return;
  await seed("/t3");
  assert.equal(await realTool("rm", ["-t", "/t3/a/b/c/leaf"]), 0);
  assert.equal(await realTool("rm", ["-t", "/t3/a/valued"]), 0);
  assert.equal(
    (await tree("/t3")).replaceAll("/t3", "/t1"),
    await tree("/t1"),
    "as xenstore-rm -t leaves it",
  );
});

test("chmod -u sets the parents' permissions too, not their other subtrees", async () => {
  await client.write("/u1/a/b", "1");
  await client.write("/u1/other", "2");
  assert.equal(await toolChmod(client, "/u1/a/b", ["b3"], { upto: true }, quiet), 0);
  for (const p of ["/u1/a/b", "/u1/a", "/u1"])
    assert.deepEqual(await client.getPerms(p), [{ letter: "b", domid: 3 }], p);
  assert.notDeepEqual(await client.getPerms("/u1/other"), [{ letter: "b", domid: 3 }]);
  if (!REAL) return;
  await client.write("/u2/a/b", "1");
  await client.write("/u2/other", "2");
  assert.equal(await realTool("chmod", ["-u", "/u2/a/b", "b3"]), 0);
  assert.equal(
    (await tree("/u2")).replaceAll("/u2", "/u1"),
    await tree("/u1"),
    "as xenstore-chmod -u leaves it",
  );
});
