/**
 * netback, the driver domain's half of a vif, as a library. {@link NetbackDriver} runs in
 * Domain-0 and serves every frontend whose backend directory appears under its
 * `backend/vif` (the xenbus half: features, the state walk, hotplug gating, ring maps and
 * channels); for each device it asks the caller for the vif (`openVif`), normally a
 * {@link NetbackVif}: a port on a VALE switch, or, opened in netmap mode with `openNetmap`,
 * a netmap port whose RX rings hold the frames the guest sent and whose TX rings go to
 * the guest; {@link VifFrames} makes that a stream of frames (`listen`, `write`) for a
 * backend of your own. Counters use xen-netback's `ethtool -S` names. A {@link PtBackVif}
 * is a netmap passthrough vif (pvnet's): a VALE port over the guest's granted netmap memory.
 *
 * @module pvnet/netback
 */

export { VIF_QUEUE_COUNTERS, type VifQueueCounter, vifEthtoolStats } from "./counters.js";
export { parseRate, type Rate, UNLIMITED } from "./credit.js";
export type { VifCtrl } from "./ctrl.js";
export { HASH_MAPPING_MAX, VifHash } from "./hash.js";
export { type PtKeys, readPtKeys } from "./pt-keys.js";
export { PtBackVif } from "./pt-vif.js";
export { STAGING_GRANTS_PER_QUEUE, StagingTable } from "./staging.js";
export { NetbackVif, type NetbackVifOptions } from "./vif.js";
export type {
  BackFeatures,
  BackQueue,
  BackQueueRings,
  BackVif,
  BackVifInfo,
  OpenBackVif,
  VifFatal,
} from "./vif-api.js";
export type { VifDomain } from "./vif-domain.js";
export { type VifFrameListener, VifFrames } from "./vif-frames.js";
export { type NetbackDeviceStatus, NetbackDriver, type NetbackOptions } from "./xenbus.js";
