/**
 * An uplink's adapter on a VALE switch, as Domain-0 puts every uplink there (netmap's
 * bwrap, `vale-ctl -a`): received frames are pumped into the switch once per event-loop
 * turn however many arrived in it, so they enter the switch in batches, and a txsync that
 * stalled for want of room resumes when the adapter says it has some.
 */
import type { NetmapDevice } from "../netmap/context.js";
import { attachDevice, type ValeBwrap } from "../vale/bwrap.js";
import type { ValeSwitch } from "../vale/switch.js";
import type { NicAdapter } from "./nic-adapter.js";

export class NicPort {
  readonly adapter: NicAdapter;
  readonly #bwrap: ValeBwrap;
  #pumpQueued = false;
  #closed = false;

  /** Attaches `adapter` to `sw` as port `<switch>:<adapter name>`; throws when it cannot. */
  constructor(sw: ValeSwitch, adapter: NicAdapter, makePort?: (dev: NetmapDevice) => ValeBwrap) {
    this.adapter = adapter;
    const dev = adapter.device();
    const bwrap = makePort === undefined ? attachDevice(sw, dev).nic : makePort(dev);
    this.#bwrap = bwrap;
    const pump = (): void => {
      this.#pumpQueued = false;
      if (!this.#closed) bwrap.pump();
    };
    adapter.onRx = () => {
      if (this.#pumpQueued) return;
      this.#pumpQueued = true;
      setImmediate(pump);
    };
    adapter.onTxRoom = () => {
      if (!this.#closed) bwrap.port?.txsync();
    };
  }

  /** The switch port's name (`vale0:vxlan0`). */
  get name(): string {
    return this.#bwrap.name;
  }

  /** Leaves the switch; frames arriving later are not pumped. */
  detach(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#bwrap.detach();
  }
}
