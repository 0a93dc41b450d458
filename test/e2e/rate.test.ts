import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import { XsClient } from "../../src/xenstore/client.js";

const YAML = `
domains:
  - name: Domain-0
  - name: tx
    vifs: [{ ip: 10.0.0.1/24, rate: 10Mbit/s }]
  - name: free
    vifs: [{ ip: 10.0.0.2/24 }]
bridges:
  vale0: {}
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The guest's transmit rate as netback counts it (bytes it took from the ring), in bit/s over
 * about `ms`. Domain-0 publishes counters every STATUS_MS, so the window runs from one fresh
 * sample to another (the moment a count changes), not from arbitrary instants: a loaded
 * machine delays samples, and a stale one at either end would bias the rate.
 */
async function measure(host: Host, name: string, ms: number): Promise<number> {
  const bytes = () => host.status().vifs.find((v) => v.domain === name)!.counters.rx_bytes;
  const fresh = async (): Promise<[number, number]> => {
    const b = bytes();
    const until = performance.now() + 5000;
    while (bytes() === b && performance.now() < until) await sleep(2);
    return [bytes(), performance.now()];
  };
  const [b0, t0] = await fresh();
  await sleep(ms);
  const [b1, t1] = await fresh();
  return ((b1 - b0) * 8 * 1000) / (t1 - t0);
}

/** Domain-0's counter publishing period for this test (the default is 250 ms). */
const STATUS_MS = 20;

test("credit rate limiting: a guest sending flat out is held to its vif's 10 Mbit/s within 5 % over 4 s, then to 50 Mbit/s once the rate key is changed live; an unlimited guest beside it is not held", async (t) => {
  const r = parseHostConfig(YAML, "rate.yaml");
  assert.ok(r.ok, JSON.stringify(r));
  const dir = mkdtempSync(join(tmpdir(), `pvnet-rate-${process.pid}-`));
  const socketPath = join(dir, "xenstored.sock");
  const blast = new URL("./programs/blast-guest.js", import.meta.url);
  const host = await Host.boot(r.config, {
    socketPath,
    programs: { tx: blast, free: blast },
    statusMs: STATUS_MS,
  });
  let xs: XsClient | undefined;
  try {
    const vif = host.status().vifs.find((v) => v.domain === "tx")!;
    const t0 = Date.now();
    while (vif && host.status().vifs.find((v) => v.domain === "tx")!.counters.rx_bytes === 0) {
      assert.ok(Date.now() - t0 < 30_000, "the guest sends");
      await sleep(50);
    }
    await sleep(1000); // past the first burst (up to 128 KiB, as Linux allows)
    const ten = await measure(host, "tx", 4000);
    const free = await measure(host, "free", 1000);
    xs = await XsClient.connect(socketPath);
    const be = `/local/domain/0/backend/vif/${vif.domid}/${vif.devid}`;
    assert.equal(await xs.read(`${be}/rate`), "62500,50000", "the config's rate, as libxl writes it");
    await xs.write(`${be}/rate`, "312500,50000");
    await sleep(500);
    const fifty = await measure(host, "tx", 4000);
    const waits = host.status().vifs.find((v) => v.domain === "tx")!.counters.tx_credit_waits;
    const line = `10 Mbit/s measured ${(ten / 1e6).toFixed(3)}, 50 Mbit/s measured ${(fifty / 1e6).toFixed(3)}, unlimited neighbour ${(free / 1e6).toFixed(1)} Mbit/s, ${waits} credit waits`;
    t.diagnostic(line);
    assert.ok(Math.abs(ten - 10e6) <= 0.05 * 10e6, line);
    assert.ok(Math.abs(fifty - 50e6) <= 0.05 * 50e6, line);
    assert.ok(free > 20e6, `the unlimited guest is not held: ${line}`);
    assert.ok(waits > 0);
    assert.equal(host.status().vifs.find((v) => v.domain === "tx")!.fatal, false, "never disconnected");
  } finally {
    xs?.close();
    await host.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});
