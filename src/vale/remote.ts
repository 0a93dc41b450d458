/**
 * VALE ports used from other threads. The switch and its forwarding stay in one thread
 * (as netmap serialises them); a port owned elsewhere is a netmap pipe whose one end sits
 * on the switch (wrapped like a device, bwrap.ts) and whose other end the owner opens in
 * its own thread from a plain-data description. Slots cross the pipe by swapping buffer
 * indices, so the only copies are the switch's own, once per destination; both sides are
 * event-driven through the rings' wake words.
 *
 * A `RemoteIf` is such an interface with a life of its own, as netmap's persistent VALE
 * interfaces (`vale-ctl -n vi0`) have: it exists on no switch, or on one (`attach`), and is
 * open by at most one user at a time. Each open gets a fresh pipe, so a new user never
 * inherits the previous one's ring positions; the switch port (index, learnt addresses,
 * counters) stays across opens.
 */
import { PvnetError } from "../base/errors.js";
import { RateLog } from "../base/ratelog.js";
import { NetmapRegion, type RegionSpec } from "../netmap/mem.js";
import { createPipe, type PipeDesc, PipeEnd, pipeRegionSpec } from "../netmap/pipe.js";
import { NetmapPort } from "../netmap/port.js";
import { nmRingAdvance } from "../netmap/ring.js";
import { ValeBwrap } from "./bwrap.js";
import type { ValeSwitch } from "./switch.js";

/** What the owning thread needs to open its end (structured-clone safe). */
export interface RemotePortDesc {
  name: string;
  regionId: number;
  spec: RegionSpec;
  sab: SharedArrayBuffer;
  pipe: PipeDesc;
  /** Which end to open: the slave `}` end (the owner's side of a switch port) unless set. */
  master?: boolean;
}

/** An open: the pipe, and the loop serving its switch end. */
interface Session {
  desc: RemotePortDesc;
  port: NetmapPort;
  running: boolean;
  served: Promise<void>;
}

let nextRegionId = 7000;

export class RemoteIf {
  readonly name: string;
  readonly slots: number;
  /** Frames the user sent while the interface was on no switch (they go nowhere). */
  unswitched = 0;
  #bwrap: ValeBwrap | null = null;
  #session: Session | null = null;

  /** Times serving an open ended on an error (`#fail`); the interface waits for a close. */
  faults = 0;
  readonly #log: RateLog;

  constructor(name: string, slots = 1024, opts: { log?: RateLog } = {}) {
    this.name = name;
    this.slots = slots;
    this.#log = opts.log ?? new RateLog();
  }

  /** The switch port, while attached. */
  get bwrap(): ValeBwrap | null {
    return this.#bwrap;
  }

  get isOpen(): boolean {
    return this.#session !== null;
  }

  /** Puts the interface on `sw` as port `portName` (`vale-ctl -a`). */
  attach(sw: ValeSwitch, portName = `${sw.name}:${this.name}`): ValeBwrap {
    if (this.#bwrap !== null) throw new PvnetError("EBUSY", `${this.name} is already on a switch`);
    this.#bwrap = new ValeBwrap(sw, portName, this.#session?.port ?? null, this.slots, this.#log);
    return this.#bwrap;
  }

  /** Takes the interface off its switch (`vale-ctl -d`); false when it was on none. */
  detach(): boolean {
    if (this.#bwrap === null) return false;
    this.#bwrap.detach(true);
    this.#bwrap = null;
    return true;
  }

  /**
   * Opens the interface for a user in another thread: returns what that thread passes to
   * `openRemotePort`. One user at a time (EBUSY otherwise).
   */
  open(): RemotePortDesc {
    if (this.#session !== null) throw new PvnetError("EBUSY", `${this.name} is already open`);
    const slots = this.slots;
    const spec = pipeRegionSpec(slots);
    const region = new NetmapRegion(nextRegionId++, spec);
    const pipe = createPipe(region, this.name, slots);
    const end = new PipeEnd(region, pipe, true);
    const port = new NetmapPort(region, end, [end.txRing], [end.rxRing], { log: this.#log });
    const desc = describePipeEnd(this.name, region, spec, pipe, false);
    const s: Session = { desc, port, running: true, served: Promise.resolve() };
    s.served = this.#serve(s);
    this.#session = s;
    this.#bwrap?.rebind(port);
    return desc;
  }

  /** Ends the current open (the user's thread must be done with the rings). */
  async close(): Promise<void> {
    const s = this.#session;
    if (s === null) return;
    s.running = false;
    await s.served;
    this.#bwrap?.rebind(null);
    s.port.close();
    this.#session = null;
  }

  /**
   * Serves the switch end of the pipe: frames the user sends are forwarded when they
   * arrive; frames for the user are handed over as room allows. The user's thread shares
   * this memory, so this loop is a trust boundary: whatever throws here ends this open
   * only (`#fail`), never the thread the switch lives in.
   */
  async #serve(s: Session): Promise<void> {
    const port = s.port;
    while (s.running) {
      try {
        // The switch delivers into the pipe itself (bwrap.ts); this loop only takes what
        // the user sends, sleeping on the ring's wake word in between.
        await port.poll({ rx: true }, 50);
        if (!s.running) break;
        const bw = this.#bwrap;
        if (bw === null) this.#discard(port);
        // The switch unbound these rings after a fault (ValeBwrap.fault): nobody will
        // drain them, so serving them further would only spin.
        else if (bw.port !== port) throw new Error(`${bw.name}: rings unbound by the switch`);
        else bw.pump();
      } catch (e) {
        this.#fail(s, e);
        return;
      }
      // Leave the microtask queue on every pass: a ready poll (or a wake word the user
      // keeps bumping) resolves without it, and the other ports' loops and timers of this
      // thread must run between passes.
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Serving `s` threw: the open stops being served and its rings leave the switch (which
   * drops what it has for the port, counted), logged at a limited rate. The user's next
   * open gets a fresh pipe.
   */
  #fail(s: Session, e: unknown): void {
    s.running = false;
    this.faults++;
    const why = e instanceof Error ? e.message : String(e);
    this.#log.log(
      `vale:${this.name}`,
      `vale: ${this.name}: serving the open failed (${why}); port disabled until reopened`,
    );
    if (this.#bwrap?.port === s.port) this.#bwrap.rebind(null);
  }

  /** On no switch, what the user sends is released unread, as an unattached port drops it. */
  #discard(port: NetmapPort): number {
    port.rxsync();
    const k = port.rx[0];
    // The kring's checked positions: the ring's shared words are the user's to rewrite.
    const n = (k.hwtail - k.hwcur + k.numSlots) % k.numSlots;
    if (n === 0) return 0;
    nmRingAdvance(port.mem, k.r, k.hwtail);
    port.rxsync();
    this.unswitched += n;
    return n;
  }
}

export interface RemotePort {
  readonly desc: RemotePortDesc;
  readonly bwrap: ValeBwrap;
  /** Stops serving the port and detaches it from the switch. */
  stop(): Promise<void>;
}

/**
 * An ephemeral port `name` on `sw` for a user in another thread (created now, gone at
 * `stop`, as netmap's VALE ports live from the first open to the last close).
 */
export function attachRemotePort(
  sw: ValeSwitch,
  name: string,
  slots = 1024,
  opts: { log?: RateLog } = {},
): RemotePort {
  const vif = new RemoteIf(name, slots, opts);
  const bwrap = vif.attach(sw, name);
  const desc = vif.open();
  return {
    desc,
    bwrap,
    stop: async () => {
      await vif.close();
      vif.detach();
    },
  };
}

/** What another thread needs to open one end of `pipe` (in `region`, laid out by `spec`). */
export function describePipeEnd(
  name: string,
  region: NetmapRegion,
  spec: RegionSpec,
  pipe: PipeDesc,
  master: boolean,
): RemotePortDesc {
  return { name, regionId: region.id, spec, sab: region.mem.buffer as SharedArrayBuffer, pipe, master };
}

/** In the owner's thread: the port's netmap rings (one TX, one RX) — or a pipe end's. */
export function openRemotePort(desc: RemotePortDesc): NetmapPort {
  const region = new NetmapRegion(desc.regionId, desc.spec, desc.sab);
  const end = new PipeEnd(region, desc.pipe, desc.master ?? false);
  return new NetmapPort(region, end, [end.txRing], [end.rxRing]);
}
