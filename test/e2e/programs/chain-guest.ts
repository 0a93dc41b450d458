/**
 * A guest for the chain tests: the host's usual guest life (xenstore through its ring page,
 * netfront probed on `device/vif/0` with the vif's configured queues, ring order, channels
 * and features) driving the NetfrontDevice directly. The test thread tells it what to send
 * (control messages: frames with NETTXF flags and GSO type/size, each repeated) and reads
 * what arrived from shared memory: per frame its length, NETRXF flags and rxMeta GSO, and
 * its bytes. It can also hang (block its thread), as a guest that stops taking frames does.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { MACHINE } from "../../../src/hv/worker-proto.js";
import { NetfrontDevice } from "../../../src/netfront/device.js";
import { NetfrontDriver } from "../../../src/netfront/xenbus.js";
import { netfrontOptionsOf } from "../../../src/toolstack/drivers.js";
import type { GuestArgs } from "../../../src/toolstack/host-proto.js";
import { connectXenstore } from "../../../src/xenstore/domain-xenstored.js";

export interface ChainExtra {
  /** Float64 words, W_*. */
  readonly words: SharedArrayBuffer;
  /** Int32 records, REC_WORDS per received frame: length, flags, GSO type, GSO size. */
  readonly recs: SharedArrayBuffer;
  /** The received frames' bytes, back to back while they fit. */
  readonly data: SharedArrayBuffer;
  /** Int32 word 0: the guest blocks while it is 1 (after a "hang" message). */
  readonly hang: SharedArrayBuffer;
}

export const W_READY = 0;
/** Frames recorded since the last clear. */
export const W_RX = 1;
/** Bytes of `data` used. */
export const W_DATA = 2;
/** Frames received whose bytes did not fit (recorded without bytes). */
export const W_NO_ROOM = 3;
export const W_HELLO_RX = 4;
/** Frames handed to netfront (accepted by transmit) in all. */
export const W_SENT = 5;
export const W_REFUSED = 6;
/** Queues netfront connected. */
export const W_QUEUES = 7;
export const W_WORDS = 8;

export const REC_WORDS = 4;
export const MAX_RECS = 1 << 15;

export const HELLO_TYPE = 0x88b6;

/** One item to send: `bytes` `repeat` times with these flags and GSO. */
export interface SendItem {
  readonly bytes: Uint8Array;
  readonly flags: number;
  readonly gsoType: number;
  readonly gsoSize: number;
  readonly repeat: number;
}

export type ChainCommand =
  | { t: "send"; id: number; items: SendItem[] }
  | { t: "clear"; id: number }
  | { t: "hang"; id: number }
  | { t: "hello"; id: number }
  | { t: "counters"; id: number };

export type ChainReport =
  | { t: "e2e-ready"; counters: SharedArrayBuffer[] }
  | { t: "e2e-done"; id: number }
  | { t: "e2e-error"; error: string };

/** Frames handed over per turn before the loop runs (the backend's events, our RX). */
const BUDGET = 128;

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const x = args.extra as ChainExtra;
  const w = new Float64Array(x.words);
  const recs = new Int32Array(x.recs);
  const data = new Uint8Array(x.data);
  const hang = new Int32Array(x.hang);
  const cfg = args.vifs[0].vif;
  const xs = await connectXenstore(dom);
  let dev: NetfrontDevice | null = null;
  const done = (id: number): void => dom.report({ t: "e2e-done", id } satisfies ChainReport);

  // What is left to send: items in order, the current one's repeats left.
  const queue: { id: number; items: SendItem[]; at: number; left: number }[] = [];
  let scheduled = false;
  const pump = (): void => {
    scheduled = false;
    const d = dev;
    if (d === null) return;
    let budget = BUDGET;
    while (queue.length > 0) {
      const job = queue[0];
      while (job.at < job.items.length) {
        const it = job.items[job.at];
        if (job.left === 0) job.left = it.repeat;
        while (job.left > 0) {
          if (budget-- === 0) {
            scheduled = true;
            dom.loop.defer(pump);
            return;
          }
          if (!d.transmitGso(it.bytes, it.bytes.length, it.flags, it.gsoType, it.gsoSize)) {
            w[W_REFUSED]++;
            return; // onWritable calls pump again
          }
          w[W_SENT]++;
          job.left--;
        }
        job.at++;
      }
      queue.shift();
      done(job.id);
    }
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    dom.loop.defer(pump);
  };

  dom.onMessage((from, m) => {
    if (from !== MACHINE) return;
    const c = m as ChainCommand;
    switch (c.t) {
      case "send":
        queue.push({ id: c.id, items: c.items, at: 0, left: 0 });
        schedule();
        return;
      case "clear":
        w[W_RX] = 0;
        w[W_DATA] = 0;
        w[W_NO_ROOM] = 0;
        done(c.id);
        return;
      case "hello": {
        const d = dev;
        if (d === null) return;
        const f = new Uint8Array(60);
        f.fill(0xff, 0, 6);
        const dv = new DataView(f.buffer);
        dv.setUint16(6, Math.floor(d.mac / 2 ** 32));
        dv.setUint32(8, d.mac >>> 0);
        dv.setUint16(12, HELLO_TYPE);
        queue.push({
          id: c.id,
          items: [{ bytes: f, flags: 0, gsoType: 0, gsoSize: 0, repeat: 1 }],
          at: 0,
          left: 0,
        });
        schedule();
        return;
      }
      case "counters": {
        const counters: SharedArrayBuffer[] = [];
        for (let q = 0; q < (dev?.queueCount ?? 0); q++) {
          const cs = dev?.counters(q);
          if (cs !== undefined) counters.push(cs.buffer);
        }
        dom.report({ t: "e2e-ready", counters } satisfies ChainReport);
        done(c.id);
        return;
      }
      case "hang":
        // A hung guest: its thread blocks, nothing it posted is re-posted, no event is handled.
        Atomics.store(hang, 0, 1);
        done(c.id);
        dom.loop.defer(() => {
          while (Atomics.load(hang, 0) === 1) Atomics.wait(hang, 0, 1, 1000);
        });
        return;
    }
  });

  const receive = (frame: Uint8Array, off: number, len: number, flags: number): void => {
    const d = dev;
    if (d === null) return;
    if (len >= 14 && ((frame[off + 12] << 8) | frame[off + 13]) === HELLO_TYPE) {
      w[W_HELLO_RX]++;
      return;
    }
    const n = w[W_RX];
    if (n >= MAX_RECS) {
      w[W_NO_ROOM]++;
      return;
    }
    const r = n * REC_WORDS;
    recs[r] = len;
    recs[r + 1] = flags;
    recs[r + 2] = d.rxMeta.gsoType;
    recs[r + 3] = d.rxMeta.gsoSize;
    const used = w[W_DATA];
    if (used + len <= data.length) {
      data.set(frame.subarray(off, off + len), used);
      w[W_DATA] = used + len;
    } else {
      recs[r] = -len;
      w[W_NO_ROOM]++;
    }
    w[W_RX] = n + 1;
  };

  let driver: NetfrontDriver | null = null;
  dom.onShutdown(async () => {
    Atomics.store(hang, 0, 0);
    // The frontend closes first, as a Linux guest does; bounded so a dead backend cannot hold us.
    if (driver !== null) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise((r) => {
        timer = setTimeout(r, 1500);
      });
      // The timer is cleared: a pending one would keep the worker alive after shutdown.
      await Promise.race([driver.close(), late])
        .catch(() => undefined)
        .finally(() => clearTimeout(timer));
    }
    xs.close();
  });
  const start = async (): Promise<void> => {
    driver = await NetfrontDriver.probe(dom, xs, cfg.devid, {
      makeDevice: (info) => {
        const d = new NetfrontDevice(dom, info);
        dev = d;
        d.onReceive(receive);
        d.onWritable(pump);
        return d;
      },
      ...netfrontOptionsOf(cfg),
      log: (line) => dom.report({ t: "log", line: `${dom.name}: ${line}` }),
    });
    const d = dev as NetfrontDevice | null;
    if (d === null) throw new Error("connected without a device");
    w[W_QUEUES] = d.queueCount;
    w[W_READY] = 1;
  };
  // The host writes device/vif/N after this program's main returns: follow it.
  void (async () => {
    const base = `/local/domain/${dom.domid}/device/vif/${cfg.devid}`;
    const wt = await xs.watch(base);
    for await (const _ of wt) if (await xs.exists(`${base}/backend`)) break;
    wt.close?.();
    await start();
  })().catch((e: unknown) =>
    dom.report({ t: "e2e-error", error: e instanceof Error ? e.message : String(e) } satisfies ChainReport),
  );
}
