/**
 * A port's place on a VALE switch, as the hotplug step's `vale-ctl -a` / `-d` give and take
 * it: which switch, and the port index frames are forwarded from. One piece for every
 * attachment that joins a switch itself (a netif vif, a passthrough vif).
 */
import type { ValeAttachment, ValeSwitch } from "./switch.js";

export class SwitchSeat {
  /** The switch joined, or null. */
  sw: ValeSwitch | null = null;
  /** The port index on `sw` (-1 when not joined). */
  index = -1;

  /** Takes a port on `sw` for `port` (leaving any other switch first); throws when `sw` is full. */
  join(sw: ValeSwitch, port: ValeAttachment): void {
    if (this.sw === sw) return;
    this.leave();
    const i = sw.attach(port);
    if (i < 0) throw new RangeError(`${sw.name}: no free port for ${port.name}`);
    this.sw = sw;
    this.index = i;
  }

  leave(): void {
    if (this.sw === null) return;
    this.sw.detach(this.index);
    this.sw = null;
    this.index = -1;
  }
}
