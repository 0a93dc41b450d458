/**
 * Domain-0 answering netmapd's protocol for the host's bridges (dom0-netmapd.ts), on a
 * host booted in this process: the bridges and their vif ports are what vale-ctl lists,
 * the host's shutdown ends a running job first (its client hears why), and a standalone
 * netmapd already on the socket keeps it while the host boots without.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { callNetmapd } from "../../src/netmapd/client.js";
import { Netmapd } from "../../src/netmapd/daemon.js";
import { NetmapdServer } from "../../src/netmapd/server.js";
import { defaultHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";

async function valeCtl(path: string, args: string[]): Promise<{ exit: number; lines: string[] }> {
  const lines: string[] = [];
  const call = await callNetmapd(path, { op: "vale-ctl", args }, (l) => lines.push(l));
  return { exit: (await call.done).exit, lines };
}

async function until(what: string, ok: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("the host's bridges answer vale-ctl; shutdown stops a running job first and removes the socket", async () => {
  const dir = mkdtempSync(join(tmpdir(), `pvnet-d0nm-${process.pid}-`));
  const path = join(dir, "netmapd.sock");
  let host: Host | null = null;
  try {
    host = await Host.boot(defaultHostConfig(), { socketPath: null, netmapdSocket: path });
    assert.equal(host.netmapdPath, path);
    assert.equal(host.netmapdNote, null);
    // Ports number in the order hotplug attached the vifs (guests boot in parallel).
    const listed = await valeCtl(path, ["-l"]);
    assert.equal(listed.exit, 0);
    assert.deepEqual(listed.lines.map((l) => l.replace(/ port:\d /, " ")).sort(), [
      "bridge:0 vif1.0",
      "bridge:0 vif2.0",
    ]);
    assert.deepEqual(
      listed.lines.map((l) => /port:(\d)/.exec(l)?.[1]),
      ["0", "1"],
    );
    // A receiver that runs until stopped, on a port of the host's bridge.
    const out: string[] = [];
    const job = await callNetmapd(path, { op: "pkt-gen", args: ["-i", "vale0:sink", "-f", "rx"] }, (l) =>
      out.push(l),
    );
    await until("the job's port on vale0", async () =>
      (await valeCtl(path, ["-l"])).lines.includes("bridge:0 port:2 vale0:sink"),
    );
    await host.shutdown();
    host = null;
    const end = await job.done;
    assert.equal(end.exit, 1);
    assert.equal(end.code, "ESHUTDOWN");
    assert.ok(
      out.some((l) => l.startsWith("Received ")),
      `the job printed its totals: ${out.join(" | ")}`,
    );
    assert.equal(existsSync(path), false, "the socket went with the host");
  } finally {
    await host?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a standalone netmapd on the socket keeps it: the host boots without, and says why", async () => {
  const dir = mkdtempSync(join(tmpdir(), `pvnet-d0nm-${process.pid}-`));
  const path = join(dir, "netmapd.sock");
  const d = new Netmapd();
  const server = await NetmapdServer.listen(d, path);
  let host: Host | null = null;
  try {
    host = await Host.boot(defaultHostConfig(), { socketPath: null, netmapdSocket: path });
    assert.equal(host.netmapdPath, null);
    assert.equal(
      host.netmapdNote,
      `a netmapd already listens at ${path}: pvnet vale-ctl and pkt-gen reach it, not this host's switches`,
    );
    assert.equal(host.status().vifs.length, 2);
    // vale-ctl still reaches the standalone one, which has no vif ports.
    assert.deepEqual(await valeCtl(path, ["-l"]), { exit: 0, lines: [] });
  } finally {
    await host?.shutdown();
    await server.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
