/**
 * Two `pvnet up` processes, each in a network namespace of its own joined by a veth pair
 * (as two machines on one LAN), with a guest each on VNI 42 in 10.0.0.0/24: the guests
 * ping each other over VXLAN, each host learns the other guest's MAC against the other
 * host's address, and the path comes back after host B restarts.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MAIN, pvnetRun } from "../cli/running-host.js";
import { cleanup, ip, netnsUnavailable } from "./netns.js";

const MAC_A = "02:00:00:00:0a:01";
const MAC_B = "02:00:00:00:0b:01";

function hostYaml(guest: string, mac: string, addr: string, local: string, remote: string): string {
  return `
domains:
  - name: Domain-0
  - name: ${guest}
    vifs: [{ mac: "${mac}", ip: ${addr}/24, bridge: vale0 }]
bridges:
  vale0:
    uplinks: [{ vxlan: { local: ${local}, vni: 42, remotes: [${remote}] } }]
`;
}

interface Uplinked {
  uplinks: { learnt: { mac: string; remote: string }[]; counters: Record<string, number> }[];
}

/** `pvnet up FILE --json` inside namespace `ns`, with its own run directory. */
class NsHost {
  readonly env: NodeJS.ProcessEnv;
  #p: ChildProcess | null = null;
  #out = "";
  #err = "";
  #done: Promise<number | null> = Promise.resolve(null);

  constructor(
    readonly ns: string,
    readonly dir: string,
    readonly file: string,
  ) {
    this.env = { ...process.env, PVNET_RUNDIR: dir };
  }

  async start(): Promise<void> {
    this.#out = "";
    this.#err = "";
    const p = spawn("ip", ["netns", "exec", this.ns, process.execPath, MAIN, "up", this.file, "--json"], {
      env: this.env,
    });
    this.#p = p;
    p.stdout!.setEncoding("utf8").on("data", (c: string) => (this.#out += c));
    p.stderr!.setEncoding("utf8").on("data", (c: string) => (this.#err += c));
    this.#done = new Promise((resolve) => p.on("close", (code) => resolve(code)));
    const end = Date.now() + 60_000;
    while (!this.#err.includes("control at")) {
      if (p.exitCode !== null || Date.now() > end) assert.fail(`pvnet up in ${this.ns}: ${this.#err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Ctrl-C; resolves with its final JSON status. */
  async stop(): Promise<Uplinked> {
    this.#p?.kill("SIGINT");
    const code = await this.#done;
    assert.equal(code, 0, this.#err.slice(-800));
    return JSON.parse(this.#out) as Uplinked;
  }

  kill(): void {
    if (this.#p !== null && this.#p.exitCode === null) this.#p.kill("SIGKILL");
  }

  /** `pvnet ping GUEST IP` through this host's control socket, until one is answered. */
  async pingUntil(guest: string, to: string, ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    let last = "";
    while (Date.now() < end) {
      const r = await pvnetRun(["ping", guest, to, "-c", "2", "-W", "1", "-i", "0.2"], this.env);
      if (r.code === 0) return;
      last = r.out + r.err;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail(`${guest} cannot ping ${to}: ${last}`);
  }
}

const why = netnsUnavailable();

test("two pvnet hosts over VXLAN: guests ping each other, each host learns the other's guest, a restart heals", async (t) => {
  if (why !== null) {
    t.skip(why);
    return;
  }
  const pid = process.pid;
  const [nsA, nsB] = [`pvxa${pid}`, `pvxb${pid}`];
  const [va, vb] = [`vxa${pid}`, `vxb${pid}`];
  const net = `100.${64 + ((pid + 7) % 60)}.${(pid >> 5) % 250}`;
  const [addrA, addrB] = [`${net}.1`, `${net}.2`];
  const dir = mkdtempSync(join(tmpdir(), "pvnet-2hosts-"));
  const fileA = join(dir, "a.yaml");
  const fileB = join(dir, "b.yaml");
  writeFileSync(fileA, hostYaml("ga", MAC_A, "10.0.0.1", addrA, addrB));
  writeFileSync(fileB, hostYaml("gb", MAC_B, "10.0.0.2", addrB, addrA));
  const a = new NsHost(nsA, mkdtempSync(join(dir, "a-")), fileA);
  const b = new NsHost(nsB, mkdtempSync(join(dir, "b-")), fileB);
  try {
    ip(`netns add ${nsA}`);
    ip(`netns add ${nsB}`);
    ip(`link add ${va} netns ${nsA} type veth peer name ${vb} netns ${nsB}`);
    for (const [ns, dev, addr] of [
      [nsA, va, addrA],
      [nsB, vb, addrB],
    ]) {
      ip("link set lo up", ns);
      ip(`addr add ${addr}/24 dev ${dev}`, ns);
      ip(`link set ${dev} up`, ns);
    }
    await Promise.all([a.start(), b.start()]);
    await a.pingUntil("ga", "10.0.0.2");
    await b.pingUntil("gb", "10.0.0.1");

    // Host B goes away and comes back (same file, so the same guest MAC and address).
    const bBefore = await b.stop();
    assert.ok(
      bBefore.uplinks[0]!.learnt.some((e) => e.mac === MAC_A && e.remote === addrA),
      `B learnt A's guest: ${JSON.stringify(bBefore.uplinks[0])}`,
    );
    await b.start();
    await a.pingUntil("ga", "10.0.0.2");
    await b.pingUntil("gb", "10.0.0.1");

    const [fa, fb] = await Promise.all([a.stop(), b.stop()]);
    assert.ok(
      fa.uplinks[0]!.learnt.some((e) => e.mac === MAC_B && e.remote === addrB),
      `A learnt B's guest: ${JSON.stringify(fa.uplinks[0])}`,
    );
    assert.ok(fb.uplinks[0]!.learnt.some((e) => e.mac === MAC_A && e.remote === addrA));
    assert.equal(fa.uplinks[0]!.counters.rx_errors, 0);
    assert.ok(fa.uplinks[0]!.counters.rx_packets > 0 && fb.uplinks[0]!.counters.tx_packets > 0);
  } finally {
    a.kill();
    b.kill();
    cleanup([nsA, nsB], []);
    rmSync(dir, { recursive: true, force: true });
  }
});
