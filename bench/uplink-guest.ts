/**
 * `pvnet bench uplink`'s guest row: a real guest domain (netfront, its vif in netback, the
 * xenstore handshake, as `pvnet up` boots one) sends UDP frames as fast as netfront takes
 * them to a MAC nobody on the switch has; VALE floods them to the bridge's VXLAN uplink in
 * Domain-0, which sends each to a bare counting socket in a process of its own. The figure
 * is datagrams that counter received per second (what crossed every layer and the kernel).
 */
import { parseHostConfig } from "../src/toolstack/config.js";
import { Host } from "../src/toolstack/host.js";
import { type VifBenchExtra, W_GO, W_READY, W_WORDS } from "./vif-guest.js";
import { sleep, until } from "./wait.js";

/** What the bench's counting peer gives: its port and a count of datagrams received. */
export interface Counter {
  port: number;
  count: () => Promise<number>;
}

/**
 * Datagrams per second (millions) the counter got from a guest through the uplink, and
 * this process's CPU time per datagram (µs): every domain is a thread of it, so that is the
 * guest's, netback's, the switch's and the uplink's work together.
 */
export async function measureGuestTx(
  frameBytes: number,
  warmupMs: number,
  measureMs: number,
  counter: Counter,
  uplinkPort: number,
): Promise<{ mpps: number; cpuUs: number }> {
  const yaml =
    "domains:\n  - name: Domain-0\n    memory: 128M\n" +
    '  - name: guest1\n    memory: 64M\n    vifs:\n      - mac: "00:16:3e:00:01:00"\n        ip: 10.0.0.1/24\n' +
    "bridges:\n  vale0:\n    uplinks:\n" +
    `      - vxlan: { local: 127.0.0.1, port: ${uplinkPort}, vni: 42, remotes: ["127.0.0.1:${counter.port}"], mtu: ${Math.max(1450, frameBytes - 14)} }\n`;
  const r = parseHostConfig(yaml, "(bench uplink guest)");
  if (!r.ok) throw new Error(`bench uplink host: ${r.issues[0].field}: ${r.issues[0].problem}`);
  const extra: VifBenchExtra = {
    role: "tx",
    frameBytes,
    flows: 8,
    peerMac: 0x020000000099,
    peerIp: 0x0a000063,
    words: new SharedArrayBuffer(W_WORDS * 8),
    pings: 0,
    rtts: new SharedArrayBuffer(8),
  };
  const host = await Host.boot(r.config, {
    socketPath: null,
    guestProgram: new URL("./vif-guest.js", import.meta.url),
    guestExtra: () => extra,
  });
  try {
    const w = new Float64Array(extra.words);
    await until(() => w[W_READY] === 1, 10_000, "the guest's vif Connected");
    w[W_GO] = 1;
    await sleep(warmupMs);
    const n0 = await counter.count();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(measureMs);
    const n1 = await counter.count();
    const cpu = process.cpuUsage(cpu0);
    const n = n1 - n0;
    return { mpps: n / (performance.now() - t0) / 1000, cpuUs: (cpu.user + cpu.system) / Math.max(1, n) };
  } finally {
    await host.shutdown();
  }
}
