/**
 * A guest of your own on a pvnet host: the host boots Domain-0 and pvnet's guest "peer"
 * (10.0.0.1, which answers ping), and runs this file's program as guest "mine". The
 * program connects its vif with netfront (`Netif`), puts pvnet's IP stack on it, pings
 * the peer and reports the round trip. This one file is the main program (it boots the
 * host) and the guest's program (its default export runs in the guest's worker thread).
 */
import { isMainThread } from "node:worker_threads";
import type { Domain } from "pvnet/hv";
import { Netif } from "pvnet/netfront";
import { NetStack, parseIpv4 } from "pvnet/stack";
import { Host, parseHostConfig } from "pvnet/toolstack";

const HOST = `
domains:
  - name: Domain-0
  - name: peer
    vifs: [{ ip: 10.0.0.1/24, bridge: vale0 }]
  - name: mine
    vifs: [{ ip: 10.0.0.2/24, bridge: vale0 }]
bridges:
  vale0: {}
`;

/** The guest's program. The host writes its vif once `main` returns, so nothing here waits. */
export default function main(dom: Domain): void {
  ping(dom).then(
    (line) => dom.report(line),
    (e: Error) => dom.report(`mine: ${e.message}`),
  );
}

async function ping(dom: Domain): Promise<string> {
  const netif = await Netif.connect(dom);
  const stack = new NetStack(netif, { ip: ip("10.0.0.2"), timers: dom.timers });
  netif.listen((frame, off, len, flags) => stack.receive(frame, off, len, flags));
  netif.onWritable(() => stack.onWritable());
  stack.up();
  try {
    // The first ping may go out before the peer's vif is up: a few tries, as a user would.
    for (let attempt = 1; ; attempt++) {
      const r = await stack.ping(ip("10.0.0.1"), { timeoutMs: 500 });
      if (r.ok)
        return `mine (${netif.macAddress}, mtu ${netif.mtu}): 10.0.0.1 answered ping in ${r.rttMs.toFixed(2)} ms; ${netif.stats().rx_packets} frames received`;
      if (attempt === 10) return `mine: no reply from 10.0.0.1 (${r.reason})`;
    }
  } finally {
    stack.down();
    await netif.disconnect();
  }
}

function ip(s: string): number {
  const v = parseIpv4(s);
  if (typeof v !== "number") throw new Error(`bad address ${s}`);
  return v;
}

if (isMainThread) {
  const parsed = parseHostConfig(HOST, "own-guest.yaml");
  if (!parsed.ok) throw new Error(`host description: ${parsed.issues[0]?.problem}`);
  const host = await Host.boot(parsed.config, {
    socketPath: null,
    programs: { mine: new URL(import.meta.url) },
  });
  const line = await new Promise<unknown>((resolve) =>
    host.machine.on("report", (_domid, data) => {
      if (typeof data === "string") resolve(data);
    }),
  );
  console.log(line);
  await host.shutdown();
}
