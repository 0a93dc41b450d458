/**
 * The running host as netmapd: Domain-0, where the host's VALE switches live, answers
 * netmapd's protocol (src/netmapd/protocol.ts) on netmapd's socket for those switches, so
 * `pvnet vale-ctl` and `pvnet pkt-gen` from other shells find them with no options, as
 * netmap's tools find the kernel's. Each pkt-gen job runs in a worker thread Domain-0
 * starts, on a pipe whose switch end Domain-0 serves (RemoteIf): the datapath never leaves
 * shared memory and the switch stays in the one thread that forwards for it.
 *
 * Nothing here is allowed to stop the host: a socket already held by a live netmapd (a
 * standalone `pvnet netmapd`) or a path that cannot be used is said in one line and the
 * host goes on without it.
 */
import { PvnetError } from "../base/errors.js";
import { Netmapd } from "../netmapd/daemon.js";
import { NetmapdServer } from "../netmapd/server.js";
import type { ValeSwitch } from "../vale/switch.js";

export interface HostNetmapd {
  /** Where it listens; null when it could not (`note` says why). */
  readonly path: string | null;
  /** The one line the host prints when it does not serve. */
  readonly note: string | null;
  /** Stops every job (their ports leave the switches), then stops listening. */
  close(): Promise<void>;
}

export async function serveHostSwitches(
  switches: readonly ValeSwitch[],
  path: string,
  log: (line: string) => void,
): Promise<HostNetmapd> {
  const d = new Netmapd({ switches });
  try {
    const server = await NetmapdServer.listen(d, path, { log });
    return {
      path: server.path,
      note: null,
      close: async () => {
        await server.close();
        await d.close();
      },
    };
  } catch (e) {
    await d.close();
    const busy = e instanceof PvnetError && e.code === "EADDRINUSE";
    const why = e instanceof Error ? e.message : String(e);
    return {
      path: null,
      note: busy
        ? `a netmapd already listens at ${path}: pvnet vale-ctl and pkt-gen reach it, not this host's switches`
        : `not serving this host's switches to vale-ctl and pkt-gen: ${why}`,
      close: async () => {},
    };
  }
}
