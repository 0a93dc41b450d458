/**
 * Interop: Debian's xenstore-utils 4.17 (libxenstore, an implementation independent of ours)
 * against pvnet's Xenstored on a unix socket, found through XENSTORED_PATH. Outputs and exit
 * codes are asserted exactly; our own `pvnet xenstore` tools must print the same bytes.
 * Without the tools the tests skip with the reason, never pass.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  type ToolIo,
  toolChmod,
  toolExists,
  toolList,
  toolLs,
  toolRead,
  toolRm,
  toolWatch,
  toolWrite,
} from "../../src/cli/xenstore-tools.js";
import { XS_SET_PERMS, XS_TRANSACTION_START } from "../../src/wire/xen/xs-wire.js";
import { XsClient } from "../../src/xenstore/client.js";
import { Xenstored } from "../../src/xenstore/daemon.js";
import { type XsConnector, XsSocketServer } from "../../src/xenstore/transport/socket.js";

const probe = spawnSync("xenstore-read", [], { stdio: "ignore" });
const SKIP = probe.error === undefined ? false : `xenstore-utils not installed (${probe.error.message})`;

const dir = mkdtempSync(join(tmpdir(), "pvnet-xs-interop-"));
const sock = join(dir, "xs.sock");
/** Request types the daemon saw, with their tx_id, in order. */
const seen: [number, number][] = [];
let server: XsSocketServer;
let client: XsClient;
let recording: XsConnector;

before(async () => {
  const daemon = new Xenstored();
  recording = {
    connect: (opts, sink) => {
      const c = daemon.connect(opts, sink);
      return {
        id: c.id,
        domid: c.domid,
        handle: (type, reqId, txId, payload) => {
          seen.push([type, txId]);
          c.handle(type, reqId, txId, payload);
        },
        close: () => c.close(),
      };
    },
  };
  server = await XsSocketServer.listen(recording, sock, { log: () => {} });
  client = await XsClient.connect(sock);
});
after(async () => {
  client?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a real tool asynchronously (the daemon lives in this process: never spawnSync). */
function xs(tool: string, args: string[], env: NodeJS.ProcessEnv = { XENSTORED_PATH: sock }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(`xenstore-${tool}`, args, { env: { PATH: process.env.PATH, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString("latin1")));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString("latin1")));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs one of our tools in-process, capturing what it prints. */
async function ours(run: (io: ToolIo) => Promise<number>): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const out = (s: string | Uint8Array): void => {
    stdout += typeof s === "string" ? s : Buffer.from(s).toString("latin1");
  };
  const code = await run({ out, err: (s) => (stderr += s), width: 80 });
  return { code, stdout, stderr };
}

function typesSince(n: number): number[] {
  return seen.slice(n).map(([t]) => t);
}

const opts = { skip: SKIP };

/** The CLI entry beside this test: src/cli/main.ts under tsx, dist/src/cli/main.js when built. */
const CLI_MAIN = fileURLToPath(
  new URL(`../../src/cli/main.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
);

test("xenstore-write and xenstore-read, one key, no transaction", opts, async () => {
  const n = seen.length;
  assert.deepEqual(await xs("write", ["/local/domain/1/name", "guest"]), { code: 0, stdout: "", stderr: "" });
  assert.deepEqual(await xs("read", ["/local/domain/1/name"]), { code: 0, stdout: "guest\n", stderr: "" });
  assert.ok(!typesSince(n).includes(XS_TRANSACTION_START));
});

test("xenstore-write and xenstore-read with several keys use one transaction each", opts, async () => {
  const n = seen.length;
  assert.equal((await xs("write", ["/local/domain/1/a", "1", "/local/domain/1/b", "2"])).code, 0);
  assert.deepEqual(await xs("read", ["/local/domain/1/a", "/local/domain/1/b"]), {
    code: 0,
    stdout: "1\n2\n",
    stderr: "",
  });
  assert.equal(typesSince(n).filter((t) => t === XS_TRANSACTION_START).length, 2);
  assert.ok(
    seen.slice(n).some(([, tx]) => tx !== 0),
    "requests carried the transaction id",
  );
});

test("xenstore-read of a missing key exits 1 with the C tool's message", opts, async () => {
  assert.deepEqual(await xs("read", ["/nope"]), {
    code: 1,
    stdout: "",
    stderr: "xenstore-read: couldn't read path /nope\n",
  });
  const mine = await ours((io) => toolRead(client, ["/nope"], {}, io));
  assert.deepEqual(mine, { code: 1, stdout: "", stderr: "couldn't read path /nope\n" });
});

test("xenstore-ls prints the tree with indentation and quoted values", opts, async () => {
  await xs("write", ["/ls/dev/vif/0/mac", "00:16:3e:00:00:01", "/ls/dev/vif/0/state", "4"]);
  const r = await xs("ls", ["/ls"]);
  assert.deepEqual(r, {
    code: 0,
    stdout: 'dev = ""\n vif = ""\n  0 = ""\n   mac = "00:16:3e:00:00:01"\n   state = "4"\n',
    stderr: "",
  });
  assert.deepEqual(await ours((io) => toolLs(client, "/ls", {}, io)), r);
});

test(
  "xenstore-ls -p shows perms after a dotted pad; -f whole paths; pvnet ls prints the same bytes",
  opts,
  async () => {
    const r = await xs("ls", ["-p", "/ls/dev/vif"]);
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      [
        '0 = "" . . . . . . . . . . . . . . . . . . . . . . . . . . .  (n0)',
        ' mac = "00:16:3e:00:00:01" . . . . . . . . . . . . . . . . .  (n0)',
        ' state = "4" . . . . . . . . . . . . . . . . . . . . . . . .  (n0)',
        "",
      ].join("\n"),
    );
    assert.deepEqual(await ours((io) => toolLs(client, "/ls/dev/vif", { perms: true }, io)), r);
    const f = await xs("ls", ["-f", "/ls"]);
    assert.deepEqual(await ours((io) => toolLs(client, "/ls", { full: true }, io)), f);
    const root = await xs("ls", []);
    assert.match(root.stdout, /^tool = ""\nlocal = ""\n domain = ""\n {2}0 = ""\n {3}name = "Domain-0"\n/);
    assert.deepEqual(await ours((io) => toolLs(client, "/", {}, io)), root);
  },
);

test("escaped and long values look the same from xenstore-ls and pvnet ls", opts, async () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  await client.write("/esc/bytes", all.subarray(1, 200));
  await client.write("/esc/long", "v".repeat(100));
  await client.write("/esc/mid", "\x01".repeat(30));
  await client.write("/esc/deep/er/and/deeper/still/with/a/rather/long/name/at/the/end", "x".repeat(40));
  for (const args of [[], ["-p"], ["-f"], ["-f", "-p"]]) {
    const r = await xs("ls", [...args, "/esc"]);
    assert.equal(r.code, 0);
    const mine = await ours((io) =>
      toolLs(client, "/esc", { perms: args.includes("-p"), full: args.includes("-f") }, io),
    );
    assert.deepEqual(mine, r, `ls ${args.join(" ")}`);
  }
  for (const flags of [[], ["-p"], ["-R"], ["-p", "-R"]]) {
    const rr = await xs("read", [...flags, "/esc/bytes"]);
    const o = { prefix: flags.includes("-p"), raw: flags.includes("-R") };
    assert.deepEqual(
      await ours((io) => toolRead(client, ["/esc/bytes"], o, io)),
      rr,
      `read ${flags.join(" ")}`,
    );
  }
});

test("xenstore-write's escapes reach the store as pvnet write decodes them", opts, async () => {
  const arg = String.raw`a\tb\x41\101\\c\q\x4g`;
  assert.equal((await xs("write", ["/w/real", arg])).code, 0);
  assert.equal((await ours((io) => toolWrite(client, ["/w/ours", arg], {}, io))).code, 0);
  assert.deepEqual(await client.readBytes("/w/ours"), await client.readBytes("/w/real"));
  assert.equal(await client.read("/w/real"), "a\tbAA\\cq\x04g");
});

test("xenstore-list lists children in a transaction; a missing path exits 1", opts, async () => {
  const n = seen.length;
  const r = await xs("list", ["/ls/dev/vif/0"]);
  assert.deepEqual(r, { code: 0, stdout: "mac\nstate\n", stderr: "" });
  assert.ok(typesSince(n).includes(XS_TRANSACTION_START));
  assert.deepEqual(await ours((io) => toolList(client, ["/ls/dev/vif/0"], {}, io)), r);
  const p = await xs("list", ["-p", "/ls/dev/vif/0"]);
  assert.equal(p.stdout, "/ls/dev/vif/0/mac\n/ls/dev/vif/0/state\n");
  assert.deepEqual(await xs("list", ["/nope"]), {
    code: 1,
    stdout: "",
    stderr: "xenstore-list: could not list path /nope\n",
  });
});

test("xenstore-exists exits 0 or 1 and prints nothing", opts, async () => {
  assert.deepEqual(await xs("exists", ["/ls/dev"]), { code: 0, stdout: "", stderr: "" });
  assert.deepEqual(await xs("exists", ["/nope"]), { code: 1, stdout: "", stderr: "" });
  assert.deepEqual(await xs("exists", ["/ls/dev", "/nope"]), { code: 1, stdout: "", stderr: "" });
  assert.equal(await toolExists(client, ["/ls/dev", "/nope"]), 1);
  assert.equal(await toolExists(client, ["/ls/dev"]), 0);
});

test("xenstore-rm removes a subtree; removing below a missing parent fails", opts, async () => {
  await xs("write", ["/rm/a/b", "1"]);
  assert.deepEqual(await xs("rm", ["/rm/a"]), { code: 0, stdout: "", stderr: "" });
  assert.equal((await xs("exists", ["/rm/a/b"])).code, 1);
  assert.equal((await xs("exists", ["/rm"])).code, 0);
  assert.deepEqual(
    await xs("rm", ["/rm/a"]),
    { code: 0, stdout: "", stderr: "" },
    "absent node, parent present",
  );
  assert.deepEqual(await xs("rm", ["/nope/deep"]), {
    code: 1,
    stdout: "",
    stderr: "xenstore-rm: could not remove path /nope/deep\n",
  });
});

test("xenstore-chmod sets perms in a transaction and xenstore-ls -p shows them", opts, async () => {
  await xs("write", ["/local/domain/1/c", "1"]);
  const n = seen.length;
  assert.deepEqual(await xs("chmod", ["/local/domain/1/c", "b1", "r0"]), { code: 0, stdout: "", stderr: "" });
  const t = typesSince(n);
  assert.ok(t.includes(XS_TRANSACTION_START) && t.includes(XS_SET_PERMS));
  const r = await xs("ls", ["-p", "/local/domain/1"]);
  assert.match(r.stdout, /^c = "1" {2}(\. )+ \(b1,r0\)$/m);
  assert.deepEqual(await client.getPerms("/local/domain/1/c"), [
    { letter: "b", domid: 1 },
    { letter: "r", domid: 0 },
  ]);
  assert.deepEqual(await xs("chmod", ["/nope", "b0"]), {
    code: 1,
    stdout: "",
    stderr: "xenstore-chmod: Error occurred setting permissions on '/nope': No such file or directory\n",
  });
});

test("xenstore-watch -n 2 sees the initial event and one write, then exits 0", opts, async () => {
  const path = "/local/domain/1/device/vif/0/state";
  await client.write(path, "1");
  const before = server.connections;
  const watching = xs("watch", ["-n", "2", path]);
  // Write once the tool's watch is registered: its connection shows up, then its WATCH.
  const deadline = Date.now() + 3000;
  while (server.connections === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 50));
  await client.write(path, "4");
  assert.deepEqual(await watching, { code: 0, stdout: `${path}\n${path}\n`, stderr: "" });
  // The tool closed without UNWATCH: the daemon dropped its watch with the connection.
  const deadline2 = Date.now() + 3000;
  while (server.connections > before && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 5));
  assert.equal(server.connections, before);
});

test("XENSTORED_RUNDIR finds <dir>/socket, as libxenstore does", opts, async () => {
  const rundir = mkdtempSync(join(dir, "run-"));
  const second = await XsSocketServer.listen(recording, join(rundir, "socket"), { log: () => {} });
  try {
    const r = await xs("read", ["/local/domain/0/name"], { XENSTORED_RUNDIR: rundir });
    assert.deepEqual(r, { code: 0, stdout: "Domain-0\n", stderr: "" });
  } finally {
    await second.close();
  }
});

test("the pvnet CLI reads through the socket with the tools' format", opts, async () => {
  const r = await new Promise<Run>((resolve, reject) => {
    const p = spawn(process.execPath, [
      "--import",
      "tsx",
      CLI_MAIN,
      "xenstore",
      "--socket",
      sock,
      "read",
      "/nope",
    ]);
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d));
    p.stderr.on("data", (d: Buffer) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  assert.deepEqual(r, { code: 1, stdout: "", stderr: "pvnet xenstore read: couldn't read path /nope\n" });
});

test("pvnet rm and chmod fail like xenstore-rm and xenstore-chmod", opts, async () => {
  assert.deepEqual(await ours((io) => toolRm(client, ["/nope/deep"], io)), {
    code: 1,
    stdout: "",
    stderr: "could not remove path /nope/deep\n",
  });
  assert.deepEqual(await ours((io) => toolChmod(client, "/nope", ["b0"], {}, io)), {
    code: 1,
    stdout: "",
    stderr: "Error occurred setting permissions on '/nope': No such file or directory\n",
  });
  for (const args of [["zz"], ["b70000"], []]) {
    const real = await xs("chmod", ["/chr-bad", ...args]);
    const mine = await ours((io) => toolChmod(client, "/chr-bad", args, {}, io));
    assert.deepEqual(mine, { ...real, stderr: real.stderr.replace(/^xenstore-chmod: /, "") }, args.join(" "));
  }
  await client.write("/chr/a/b", "1");
  assert.equal((await ours((io) => toolChmod(client, "/chr", ["b2", "r0"], { recurse: true }, io))).code, 0);
  const r = await xs("ls", ["-p", "/chr"]);
  assert.equal((r.stdout.match(/\(b2,r0\)/g) ?? []).length, 2, r.stdout);
});

test("pvnet watch prints what xenstore-watch prints", opts, async () => {
  const path = "/wt/state";
  await client.write(path, "1");
  let out = "";
  const io: ToolIo = { out: (s) => (out += s), err: () => {}, width: 80 };
  const other = await XsClient.connect(sock);
  try {
    const done = toolWatch(other, path, { count: 3 }, io);
    await new Promise((r) => setTimeout(r, 20));
    await xs("write", [path, "2"]);
    await xs("write", [`${path}/sub`, "x"]);
    assert.equal(await done, 0);
  } finally {
    other.close();
  }
  assert.equal(out, `${path}\n${path}\n${path}/sub\n`);
});

test("pvnet xenstored serves the real tools and exits on SIGTERM", opts, async () => {
  const path = join(dir, "cli.sock");
  const d = spawn(process.execPath, ["--import", "tsx", CLI_MAIN, "xenstored", "--socket", path]);
  let log = "";
  d.stderr.on("data", (b: Buffer) => (log += b));
  const exited = new Promise<number | null>((r) => d.on("close", (code) => r(code)));
  try {
    const deadline = Date.now() + 5000;
    while (!log.includes("listening") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(await xs("read", ["/local/domain/0/name"], { XENSTORED_PATH: path }), {
      code: 0,
      stdout: "Domain-0\n",
      stderr: "",
    });
  } finally {
    d.kill("SIGTERM");
  }
  assert.equal(await exited, 0);
  assert.match(log, /SIGTERM, shutting down/);
});
