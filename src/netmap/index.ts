/**
 * netmap in shared memory: the structures netmap shares with its users (`netmap_if`,
 * `netmap_ring`, slots) laid out in a {@link NetmapRegion}, the kernel side (kring with
 * netmap's sync prologues, the {@link NetmapAdapter} contract), ports opened by name
 * through a {@link NetmapContext} (`pipe{N`, `netmap:IF`, `valeX:P` once VALE is
 * installed), zero-copy pipes, host rings, monitors, the emulated (generic) adapter, and
 * the user-side helpers of `netmap_user.h` (`nmRingSpace`, `nmRingAdvance`, ...).
 *
 * @module pvnet/netmap
 */
export * from "./adapter.js";
export * from "./context.js";
export * from "./extra-bufs.js";
export * from "./frame-queue.js";
export * from "./generic.js";
export * from "./host-rings.js";
export * from "./irq.js";
export * from "./kring.js";
export * from "./layout.js";
export * from "./mem.js";
export * from "./monitor.js";
export * from "./pipe.js";
export * from "./port.js";
export * from "./port-name.js";
export * from "./pt-layout.js";
export * from "./ring.js";
