/**
 * The "hypervisor": {@link Machine} (main thread) creates domains, each a worker thread
 * with its own memory, and answers their hypercalls; a domain's program is a module whose
 * default export is a {@link DomainProgram}, called with the {@link Domain} runtime: its
 * memory and page allocator, {@link GrantTable} (granting), {@link GrantOps} (map, unmap,
 * batched copy of another domain's grants), {@link EventChannels}, {@link EventLoop} and
 * timers.
 *
 * @module pvnet/hv
 */
export type { Domain, MessageHandler } from "./domain.js";
export type { DomainProgram } from "./domain-worker.js";
export {
  EVTCHN_NR_PORTS,
  EventChannels,
  type EventChannelsOptions,
  type EvtchnStats,
  type OwnSide,
  type PortHandler,
  type PortStats,
} from "./evtchn.js";
export { type GrantingDomain, GrantOps, type GrantOpsOptions } from "./grant-ops.js";
export { GRANTS_PER_FRAME, GrantTable, TRANSFER_PENDING, TRANSFER_REVOKED } from "./grant-table.js";
export { GrantTransfer } from "./grant-transfer.js";
export { LATE_EOI_DEFAULTS, type LateEoiOptions } from "./late-eoi.js";
export { EventLoop, type LoopMode, type LoopOptions, SIDE_EMPTY_THRESHOLD } from "./loop.js";
export {
  checkDomainSpec,
  type DomainSpec,
  type DomainStatus,
  Machine,
  type MachineOptions,
} from "./machine.js";
export { type DomainMemory, PAGE_SHIFT, PAGE_SIZE, PageAllocator } from "./memory.js";
export type { ThreadSample } from "./thread-probe.js";
export { ManualTimers, NodeTimers, type TimerId, type Timers } from "./timer.js";
export { MACHINE } from "./worker-proto.js";
