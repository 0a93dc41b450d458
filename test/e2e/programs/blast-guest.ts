/**
 * Test guest that transmits as fast as its vif takes frames: UDP datagrams of `payload`
 * bytes to its subnet's broadcast (no ARP needed, nobody has to answer), as many as the
 * ring accepts every 2 ms. A rate-limited vif holds its ring back, so the rate netback
 * counts (its rx_bytes for this vif) is the limiter's.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { Netif } from "../../../src/netfront/netif.js";
import { NetStack } from "../../../src/stack/iface.js";
import { SEND_OK } from "../../../src/stack/send-status.js";
import type { GuestArgs } from "../../../src/toolstack/host-proto.js";

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const v = args.vifs[0]!;
  const payload = new Uint8Array((args.extra as { payload?: number } | null)?.payload ?? 1472);
  void (async () => {
    const netif = await Netif.connect(dom, { log: (line) => dom.report({ t: "log", line }) });
    const ip = v.vif.ip!;
    const s = new NetStack(netif, { ip: ip.value, prefixLen: ip.prefix, timers: dom.timers });
    netif.listen((f, off, len, flags) => s.receive(f, off, len, flags));
    netif.onWritable(() => s.onWritable());
    s.up();
    const bcast = (ip.value | (0xffffffff >>> ip.prefix)) >>> 0;
    const sock = s.bindUdp(0, () => {});
    dom.timers.every(2, () => {
      for (let i = 0; i < 64 && s.txQueued === 0; i++) if (sock.sendTo(bcast, 9, payload) !== SEND_OK) break;
    });
  })();
}
