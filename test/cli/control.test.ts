/**
 * The control socket and the xl-style commands as a user runs them: `pvnet up` in one
 * process, each command in its own, finding the host through the run directory alone.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { pvnetRun, type Run, UpProcess, until } from "./running-host.js";

const host = new UpProcess("pvnet-ctl-");
const { env, sock, dir } = host;

function pvnet(args: readonly string[], e: NodeJS.ProcessEnv = env): Promise<Run> {
  return pvnetRun(args, e);
}

/** Lines sent on one connection; resolves with the reply lines once `n` have come. */
function raw(lines: string, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(sock);
    let buf = "";
    s.setEncoding("utf8");
    s.on("connect", () => s.write(lines));
    s.on("error", reject);
    s.on("data", (c: string) => {
      buf += c;
      const got = buf.split("\n").filter((l) => l !== "");
      if (got.length >= n) {
        s.destroy();
        resolve(got);
      }
    });
  });
}

before(() => host.start());

after(async () => {
  if (await host.stop()) assert.equal(existsSync(sock), false, "the control socket is removed at shutdown");
  host.remove();
});

test("the socket is mode 0600 and its path is printed next to xenstored's", () => {
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  assert.match(host.out, /xenstore at .*\n.*control at /);
});

test("list: Domain-0 and both guests, as xl list", async () => {
  const r = await pvnet(["list"]);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split("\n");
  assert.match(lines[0]!, /^Name +ID +Mem VCPUs\tState\tTime\(s\)$/);
  assert.match(lines[1]!, /^Domain-0 +0 +\d+ +1 +r----- +\d+\.\d$/);
  assert.match(lines[2]!, /^guest1 +1 +\d+ +1 +-b---- +\d+\.\d$/);
  assert.match(lines[3]!, /^guest2 +2 +\d+ +1 +-b---- +\d+\.\d$/);
  const j = JSON.parse((await pvnet(["list", "--json"])).out) as {
    name: string;
    id: number;
    state: string;
  }[];
  assert.deepEqual(
    j.map((d) => [d.name, d.id, d.state]),
    [
      ["Domain-0", 0, "r-----"],
      ["guest1", 1, "-b----"],
      ["guest2", 2, "-b----"],
    ],
  );
});

test("network-list: each guest's vif from xenstore, state 4", async () => {
  for (const [g, id] of [
    ["guest1", 1],
    ["guest2", 2],
  ] as const) {
    const r = await pvnet(["network-list", g]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split("\n");
    assert.equal(lines[0], "Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path");
    assert.equal(lines.length, 2, r.out);
    const re = new RegExp(
      `^0 +0 +([0-9a-f:]{17}) +0 +4 +\\d+ +\\d+/\\d+ +/local/domain/0/backend/vif/${id}/0$`,
    );
    assert.match(lines[1]!, re);
    const j = JSON.parse((await pvnet(["network-list", String(id), "--json"])).out) as {
      domain: string;
      nics: { idx: number; state: number; evtch: number; txRingRef: number; rxRingRef: number }[];
    };
    assert.equal(j.domain, g);
    assert.equal(j.nics[0]!.state, 4);
    assert.ok(j.nics[0]!.evtch > 0 && j.nics[0]!.txRingRef >= 0 && j.nics[0]!.rxRingRef >= 0);
  }
});

test("errors: unknown domain, Domain-0 refuses destroy, no host at a path: one line, exit 1", async () => {
  const unknown = await pvnet(["network-list", "nope"]);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.err, "pvnet network-list: no domain named nope\n");
  const d0 = await pvnet(["destroy", "Domain-0"]);
  assert.equal(d0.code, 1);
  assert.match(d0.err, /^pvnet destroy: Domain-0 cannot be destroyed[^\n]*\n$/);
  const other = join(dir, "none", "control.sock");
  for (const args of [["list"], ["network-list", "guest1"], ["destroy", "guest1"], ["backend-restart"]]) {
    const r = await pvnet([...args, "--control", other]);
    assert.equal(r.code, 1);
    assert.equal(r.err, `pvnet ${args[0]}: no pvnet host is running (no control socket at ${other})\n`);
  }
  const empty = mkdtempSync(join(tmpdir(), "pvnet-ctl-none-"));
  try {
    const r = await pvnet(["list"], { ...process.env, PVNET_RUNDIR: empty });
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      `pvnet list: no pvnet host is running (no control socket at ${empty}/control.sock)\n`,
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test("vcpu-pin: the guest's thread moves to the CPUs given, as xl vcpu-pin; a bad vCPU or CPU is one line, exit 1", async () => {
  const ok = await pvnet(["vcpu-pin", "guest1", "0", "0"]);
  assert.equal(ok.err, "");
  assert.equal(ok.out, "guest1 (domain 1): vCPU 0 on CPUs 0\n");
  const back = await pvnet(["vcpu-pin", "guest1", "all", "all", "--json"]);
  assert.equal(back.code, 0);
  assert.equal(JSON.parse(back.out).cpus.split(/[-,]/)[0], "0");
  const vcpu = await pvnet(["vcpu-pin", "guest1", "1", "0"]);
  assert.equal(vcpu.code, 1);
  assert.match(vcpu.err, /^pvnet vcpu-pin: bad vcpu "1"[^\n]*\n$/);
  const cpu = await pvnet(["vcpu-pin", "guest1", "0", "4096"]);
  assert.equal(cpu.code, 1);
  assert.match(cpu.err, /^pvnet vcpu-pin: cpus "4096": CPU 4096 does not exist[^\n]*\n$/);
});

test("malformed requests get error replies and the server keeps serving", async () => {
  const replies = await raw(
    'garbage\n[1]\n{"op":"reboot"}\n{"op":"destroy"}\n{"op":"list","x":1}\n{"op":"list"}\n',
    6,
  );
  const parsed = replies.map((l) => JSON.parse(l) as { ok: boolean; error?: string });
  assert.deepEqual(
    parsed.map((p) => p.ok),
    [false, false, false, false, false, true],
  );
  for (const p of parsed.slice(0, 5)) assert.match(p.error!, /^bad request: /);
  assert.equal((await pvnet(["list"])).code, 0);
});

test("a line longer than the limit: an error reply, that connection closed, the server still serving", async () => {
  const [reply] = await raw(`{"op":"list","pad":"${"x".repeat(70_000)}"}\n`, 1);
  assert.match(JSON.parse(reply!).error as string, /^bad request: line longer than \d+ bytes$/);
  assert.equal((await pvnet(["list"])).code, 0);
});

test("--control PATH finds the host from anywhere; a second pvnet up on the same socket is refused", async () => {
  const elsewhere = { ...process.env, PVNET_RUNDIR: join(dir, "elsewhere") };
  const l = await pvnet(["list", "--control", sock], elsewhere);
  assert.equal(l.code, 0, l.err);
  assert.match(l.out, /^guest1 /m);
  const second = await pvnet(["up", "--for", "5", "--xenstore-socket", join(dir, "second-xs.sock")]);
  assert.equal(second.code, 1);
  assert.equal(
    second.err,
    `pvnet up: already running at ${sock} (another pvnet up: stop it, or give this one --control PATH)\n`,
  );
  assert.equal((await pvnet(["list"])).code, 0, "the first host still serves");
});

test("destroy guest2: gone from list, the host keeps running; backend-restart: guest1's vif reconnects", async () => {
  const d = await pvnet(["destroy", "guest2"]);
  assert.equal(d.code, 0, d.err);
  assert.equal(d.out, "destroyed guest2 (domain 2)\n");
  const l = await pvnet(["list"]);
  assert.doesNotMatch(l.out, /guest2/);
  assert.match(l.out, /guest1/);
  assert.equal(host.exitCode, null);
  const r = await pvnet(["backend-restart"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^backend restarted: 1 device; old backend gone in \d+\.\d ms, .* after \d+\.\d ms\n$/);
  await until("guest1's vif Connected again", async () => {
    const n = await pvnet(["network-list", "guest1", "--json"]);
    const j = JSON.parse(n.out) as { nics: { state: number }[] };
    return j.nics.length === 1 && j.nics[0]!.state === 4;
  });
  assert.equal(host.exitCode, null);
});
