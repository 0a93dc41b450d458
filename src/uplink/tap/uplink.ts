/**
 * A tap uplink on a VALE switch, as Domain-0 runs one per `bridges.<name>.uplinks[]` tap
 * entry: the adapter reading the launcher's descriptor, attached to the switch like every
 * uplink (nic-port.ts).
 */
import type { ValeSwitch } from "../../vale/switch.js";
import { UPLINK_COUNTERS, type UplinkCounter } from "../counters.js";
import { NicPort } from "../nic-port.js";
import { TapAdapter } from "./adapter.js";

export class TapUplink {
  readonly adapter: TapAdapter;
  readonly #port: NicPort;

  /** Attaches the tap open on `fd` to `sw` as port `<switch>:<name>`; throws when it cannot. */
  constructor(
    sw: ValeSwitch,
    name: string,
    fd: number,
    o: { counters?: SharedArrayBuffer; log?: (line: string) => void } = {},
  ) {
    const adapter = new TapAdapter({ name, fd, counters: o.counters, log: o.log });
    try {
      this.#port = new NicPort(sw, adapter);
    } catch (e) {
      adapter.close();
      throw e;
    }
    this.adapter = adapter;
  }

  /** The switch port's name (`vale0:tap0`). */
  get name(): string {
    return this.#port.name;
  }

  counters(): Record<UplinkCounter, number> {
    const f = this.adapter.counters.f64;
    const out = {} as Record<UplinkCounter, number>;
    UPLINK_COUNTERS.forEach((n, i) => {
      out[n] = f[i];
    });
    return out;
  }

  /** Leaves the switch and closes the descriptor. */
  close(): void {
    this.#port.detach();
    this.adapter.close();
  }
}
