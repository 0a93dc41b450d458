/**
 * Domain-0 puts the host's tap uplinks on their switches (config-tap.ts, uplink/tap/).
 * A tap that cannot be opened fails Domain-0's boot with one line naming it.
 */
import { PvnetError } from "../base/errors.js";
import { TapUplink } from "../uplink/tap/uplink.js";
import type { ValeSwitch } from "../vale/switch.js";
import { tapFd } from "./config-tap.js";

export function openTaps(
  switches: ReadonlyMap<string, ValeSwitch>,
  taps: readonly {
    readonly bridge: string;
    readonly name: string;
    readonly fd: number | null;
    readonly shared?: SharedArrayBuffer;
  }[],
  log: (line: string) => void,
): TapUplink[] {
  const open: TapUplink[] = [];
  try {
    for (const t of taps) {
      const sw = switches.get(t.bridge);
      if (sw === undefined) throw new PvnetError("ENOENT", `tap ${t.name}: no bridge ${t.bridge}`);
      const fd = tapFd({ name: t.name, fd: t.fd ?? undefined });
      if (typeof fd === "string") throw new PvnetError("EBADF", fd);
      try {
        open.push(new TapUplink(sw, t.name, fd, { counters: t.shared, log }));
      } catch (e) {
        throw new PvnetError("EBADF", `tap ${t.name} (fd ${fd}): ${(e as Error).message}`);
      }
      log(`${t.bridge}: tap ${t.name} attached (fd ${fd})`);
    }
  } catch (e) {
    for (const p of open) p.close();
    throw e;
  }
  return open;
}
