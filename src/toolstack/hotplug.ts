/**
 * The hotplug step of a host, made replaceable: on a Xen host each vif's `script` (libxl's
 * vif-bridge by default) attaches the new backend interface to something; pvnet's default
 * joins it to the VALE switch named by its `bridge` key. `HostOptions.hotplug` names a
 * module whose default export, a {@link VifHotplug}, runs in Domain-0 for each new vif
 * instead: a backend of your own (a capture, a filter, a wire between two guests) on
 * netback's vif.
 */
import type { Domain } from "../hv/domain.js";
import type { NetbackVif } from "../netback/vif.js";

export interface HotplugContext {
  /** Domain-0's runtime (its loop, timers, `report`), where the module runs. */
  readonly dom: Domain;
  /** The vif's `bridge` key; undefined when absent. */
  readonly bridge: string | undefined;
  /** What pvnet's own step does: joins the vif to the switch named by `bridge` (throws if none). */
  joinBridge(): void;
}

/**
 * Called once per vif, after netback made it and before the guest may connect (its
 * `hotplug-status` is written `connected` once this returns, `error` if it throws).
 */
export type VifHotplug = (vif: NetbackVif, ctx: HotplugContext) => void | Promise<void>;
