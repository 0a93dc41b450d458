/**
 * Makes `valeX:PORT` names open VALE ports in a netmap context: switches and ports are
 * created on first open, as netmap creates ephemeral VALE ports.
 */
import { PvnetError } from "../base/errors.js";
import type { NetmapContext } from "../netmap/context.js";
import { ValePort } from "./port.js";
import { ValeSwitch } from "./switch.js";

export interface ValeRegistry {
  switches: Map<string, ValeSwitch>;
  ports: Map<string, ValePort>;
}

export function installVale(ctx: NetmapContext, slots = 1024): ValeRegistry {
  const reg: ValeRegistry = { switches: new Map(), ports: new Map() };
  ctx.addSubsystem(
    (sub) => sub.startsWith("vale"),
    (name) => {
      if (name.mode !== "ALL_NIC" && name.mode !== "ONE_NIC")
        throw new PvnetError("EINVAL", `${name.spec}: a VALE port has no host rings`);
      let sw = reg.switches.get(name.subsystem);
      if (sw === undefined) {
        sw = new ValeSwitch(name.subsystem);
        reg.switches.set(name.subsystem, sw);
      }
      const key = `${name.subsystem}:${name.port}`;
      let port = reg.ports.get(key);
      if (port === undefined) {
        port = new ValePort(sw, key, name.conf.txSlots ?? slots);
        reg.ports.set(key, port);
      }
      return port.open();
    },
  );
  return reg;
}
