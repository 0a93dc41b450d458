/**
 * pvnet's public API. `Machine` boots domains (worker threads with their own memory);
 * a domain program receives a `Domain` runtime with grant tables, event channels, timers
 * and an event loop, and builds shared rings with `RingArea`, `FrontRing` and `BackRing`.
 */
export { Counters } from "./base/counters.js";
export { PvnetError, type WireError } from "./base/errors.js";
export type { Domain } from "./hv/domain.js";
export type { DomainProgram } from "./hv/domain-worker.js";
export { EventChannels } from "./hv/evtchn.js";
export { GrantOps } from "./hv/grant-ops.js";
export { GrantTable } from "./hv/grant-table.js";
export { EventLoop, type LoopMode } from "./hv/loop.js";
export { type DomainSpec, type DomainStatus, Machine } from "./hv/machine.js";
export { PAGE_SIZE, PageAllocator } from "./hv/memory.js";
export { RingArea } from "./ring/area.js";
export { BackRing } from "./ring/back.js";
export { RING_ERR_REQ_PROD, RING_ERR_RSP_PROD, ringErrorText } from "./ring/errors.js";
export { FrontRing } from "./ring/front.js";
export { copyBytes } from "./wire/copy.js";
export { type Mem, memOf, privateMem, sharedMem } from "./wire/mem.js";
