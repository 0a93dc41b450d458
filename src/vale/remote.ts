/**
 * VALE ports used from other threads. The switch and its forwarding stay in one thread
 * (as netmap serialises them); a port owned elsewhere is a netmap pipe whose one end sits
 * on the switch (wrapped like a device, bwrap.ts) and whose other end the owner opens in
 * its own thread from a plain-data description. Slots cross the pipe by swapping buffer
 * indices, so the only copies are the switch's own, once per destination; both sides are
 * event-driven through the rings' wake words.
 */
import type { NetmapRegion as Region, RegionSpec } from "../netmap/mem.js";
import { NetmapRegion } from "../netmap/mem.js";
import { createPipe, type PipeDesc, PipeEnd } from "../netmap/pipe.js";
import { NetmapPort } from "../netmap/port.js";
import { ValeBwrap } from "./bwrap.js";
import type { ValeSwitch } from "./switch.js";

/** What the owning thread needs to open its end (structured-clone safe). */
export interface RemotePortDesc {
  name: string;
  regionId: number;
  spec: RegionSpec;
  sab: SharedArrayBuffer;
  pipe: PipeDesc;
}

export interface RemotePort {
  readonly desc: RemotePortDesc;
  readonly bwrap: ValeBwrap;
  /** Stops serving the port and detaches it from the switch. */
  stop(): Promise<void>;
}

let nextRegionId = 7000;

/**
 * Puts a port named `name` on `sw` for a user in another thread, and serves it from this
 * thread: frames the user sends are forwarded when they arrive; frames for the user are
 * handed over as room allows.
 */
export function attachRemotePort(sw: ValeSwitch, name: string, slots = 1024): RemotePort {
  const spec: RegionSpec = { ifBytes: 0, ringBytes: 4 * (256 + slots * 16 + 64), nBufs: 4 * slots + 2 };
  const region: Region = new NetmapRegion(nextRegionId++, spec);
  const pipe = createPipe(region, name, slots);
  const end = new PipeEnd(region, pipe, true);
  const port = new NetmapPort(region, end, [end.txRing], [end.rxRing]);
  const bwrap = new ValeBwrap(sw, name, port);
  let running = true;
  const served = (async () => {
    while (running) {
      // poll() sleeps on one ring's wake word: while frames wait for the owner to make room,
      // wait for TX room (briefly, so the owner's own sends are not held up), else for RX.
      if (bwrap.staged > 0) await port.poll({ tx: true }, 2);
      else await port.poll({ rx: true }, 100);
      if (!running) break;
      const moved = bwrap.pump() + (bwrap.staged > 0 ? bwrap.flush() : 0);
      // A ready poll resolves without leaving the microtask queue: let the other ports'
      // loops (and timers) of this thread run between busy passes.
      if (moved > 0) await new Promise((r) => setImmediate(r));
    }
  })();
  return {
    desc: { name, regionId: region.id, spec, sab: region.mem.buffer as SharedArrayBuffer, pipe },
    bwrap,
    stop: async () => {
      running = false;
      await served;
      bwrap.detach();
    },
  };
}

/** In the owner's thread: the port's netmap rings (one TX, one RX). */
export function openRemotePort(desc: RemotePortDesc): NetmapPort {
  const region = new NetmapRegion(desc.regionId, desc.spec, desc.sab);
  const end = new PipeEnd(region, desc.pipe, false);
  return new NetmapPort(region, end, [end.txRing], [end.rxRing]);
}
