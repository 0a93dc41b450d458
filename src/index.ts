/**
 * pvnet's main entry: the machine and the shared rings. `Machine` boots domains (worker
 * threads with their own memory); a domain program receives a `Domain` runtime with grant
 * tables, event channels, timers and an event loop, and builds shared rings with
 * `RingArea`, `FrontRing` and `BackRing`. Each layer also has an entry of its own with
 * everything it offers: `pvnet/hv`, `pvnet/ring`, `pvnet/wire`, `pvnet/xenstore`,
 * `pvnet/netmap`, `pvnet/vale`, `pvnet/pktgen`, `pvnet/netmapd`, and the drivers with the
 * host around them: `pvnet/netfront`, `pvnet/netback`, `pvnet/stack`, `pvnet/toolstack`.
 *
 * @module pvnet
 */
export { type Clock, FakeClock, systemClock } from "./base/clock.js";
export { Counters } from "./base/counters.js";
export { isWireError, PvnetError, toWireError, type WireError } from "./base/errors.js";
export { type LogSink, RateLog } from "./base/ratelog.js";
export type { Domain } from "./hv/domain.js";
export type { DomainProgram } from "./hv/domain-worker.js";
export { EventChannels } from "./hv/evtchn.js";
export { GrantOps, type GrantOpsOptions } from "./hv/grant-ops.js";
export { GrantTable } from "./hv/grant-table.js";
export { EventLoop, type LoopMode } from "./hv/loop.js";
export { type DomainSpec, type DomainStatus, Machine, type MachineOptions } from "./hv/machine.js";
export { PAGE_SIZE, PageAllocator } from "./hv/memory.js";
export { RingArea } from "./ring/area.js";
export { BackRing } from "./ring/back.js";
export { RING_ERR_REQ_PROD, RING_ERR_RSP_PROD, ringErrorText } from "./ring/errors.js";
export { FrontRing } from "./ring/front.js";
export { copyBytes } from "./wire/copy.js";
export { type Mem, memOf, privateMem, sharedMem } from "./wire/mem.js";
