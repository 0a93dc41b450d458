/** The benchmark suite: `pvnet bench NAME`. Each prints a table with its baselines. */

import { benchAdversary } from "./adversary.js";
import { benchNetmap } from "./netmap.js";
import type { BenchOptions, BenchRow } from "./result.js";
import { benchRing } from "./ring.js";
import { benchScale } from "./scale.js";
import { benchSoak } from "./soak.js";
import { benchStorm } from "./storm.js";
import { benchUplink } from "./uplink.js";
import { benchVif } from "./vif.js";
import { benchXenstore } from "./xenstore.js";

export type { BenchOptions } from "./result.js";

export const BENCHES: Record<string, { about: string; run: (o: BenchOptions) => Promise<BenchRow[]> }> = {
  ring: { about: "guest -> driver domain frames over a shared ring, vs C and postMessage", run: benchRing },
  netmap: { about: "netmap pipes between threads (zero copy), vs the raw ring", run: benchNetmap },
  xenstore: {
    about: "xenstore reads, writes, listings, transactions per second: socket and ring",
    run: benchXenstore,
  },
  vif: {
    about:
      "guest to guest through netfront, netback and VALE (Mpps, Gbit/s, ping RTT), vs the raw ring and VALE",
    run: benchVif,
  },
  storm: {
    about: "a guest storming Domain-0's event channels: what the other pair keeps of its rate",
    run: benchStorm,
  },
  scale: {
    about: "boot 1, 10, 50, 100 guests: time to Connected, xenstore requests, RSS per guest, aggregate rate",
    run: benchScale,
  },
  adversary: {
    about: "the adversary's random mode, 10^6 words each side: words/s, reconnects, good pings, leaks",
    run: benchAdversary,
  },
  uplink: {
    about:
      "guest to VXLAN uplink and back on loopback (Mpps, Gbit/s), vs a bare Node UDP socket in the same run",
    run: benchUplink,
  },
  soak: {
    about:
      "a pair at 80 % of capacity while the adversary attacks a third guest: per-minute rate, loss, RSS, heap",
    run: benchSoak,
  },
};
