/**
 * Test guest for multicast: connects its vif with netfront (multicast control as its
 * config says) and runs the stack. `extra` gives its role: a sender sends one datagram to
 * each of `groups` every 20 ms for `forMs`; a receiver joins `join`, binds the port and,
 * after `forMs`, reports the datagrams it received (only joined groups reach UDP) and what
 * its stack dropped as not for it (a multicast frame the vif let through for a group it
 * never joined).
 */
import type { Domain } from "../../../src/hv/domain.js";
import { Netif } from "../../../src/netfront/netif.js";
import { STACK_COUNTER_NAMES } from "../../../src/stack/counters.js";
import { NetStack } from "../../../src/stack/iface.js";
import { netfrontOptionsOf } from "../../../src/toolstack/drivers.js";
import type { GuestArgs } from "../../../src/toolstack/host-proto.js";
import { connectXenstore } from "../../../src/xenstore/domain-xenstored.js";
import { vifFrontendPath } from "../../../src/xenstore/keys.js";

export interface McastRole {
  readonly send: boolean;
  readonly groups: readonly number[];
  readonly join: readonly number[];
  readonly port: number;
  readonly forMs: number;
  /** Halfway, write request-multicast-control=0 (feature-dynamic-multicast-control). */
  readonly dropControl?: boolean;
}

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const role = args.extra as McastRole;
  const v = args.vifs[0]!;
  // The host writes the vif after the program started: connect in the background.
  void (async () => {
    const xs = await connectXenstore(dom);
    const netif = await Netif.connect(dom, {
      xs,
      features: netfrontOptionsOf(v.vif).features,
      log: (line) => dom.report({ t: "log", line }),
    });
    const s = new NetStack(netif, { ip: v.vif.ip!.value, timers: dom.timers, counters: v.stackCounters });
    netif.listen((f, off, len, flags) => s.receive(f, off, len, flags));
    netif.onWritable(() => s.onWritable());
    s.up();
    const payload = new Uint8Array(32);
    if (role.send) {
      const sock = s.bindUdp(0, () => {});
      const t = dom.timers.every(20, () => {
        for (const g of role.groups) sock.sendTo(g, role.port, payload);
      });
      // Three times as long as the receivers listen: the one that switches control off
      // reports only once it has seen the effect, however late its thread started.
      dom.timers.after(role.forMs * 3, () => dom.timers.cancel(t));
      return;
    }
    for (const g of role.join) s.joinGroup(g);
    if (role.dropControl === true)
      dom.timers.after(role.forMs / 2, () => {
        void xs.write(`${vifFrontendPath(dom.domid, v.vif.devid)}/request-multicast-control`, "0");
      });
    s.bindUdp(role.port, () => {});
    const notForUs = STACK_COUNTER_NAMES.indexOf("rxDropNotForUs");
    const udpIn = STACK_COUNTER_NAMES.indexOf("udpDatagramsReceived");
    const report = (): void => {
      const c = s.counters.f64;
      dom.report({
        t: "log",
        line: JSON.stringify({ mcast: dom.name, udp: c[udpIn], notForUs: c[notForUs], groups: s.groups }),
      });
    };
    if (role.dropControl !== true) {
      dom.timers.after(role.forMs, report);
      return;
    }
    // After dropping control: report once every group has reached it ten times, or at the
    // sender's end (the test then sees how many did).
    const t0 = dom.timers.now;
    const poll = dom.timers.every(50, () => {
      if (s.counters.f64[notForUs] < 10 && dom.timers.now - t0 < role.forMs * 3) return;
      dom.timers.cancel(poll);
      report();
    });
  })();
}
