/**
 * The guests of `pvnet bench vif`: the host's usual guest life (xenstore through the ring
 * page, netfront probed on `device/vif/0`) with a benchmark role instead of the demo pings:
 * "tx" sends UDP frames to its peer as fast as netfront takes them, each built in a TX
 * buffer netfront lends (refused -> wait for onWritable, never spin), "rx" counts what arrives, "ping" runs the stack and pings its peer
 * one echo at a time, recording each RTT, "pong" runs the stack (it answers).
 */

import { demoFrame } from "../src/demo/frame.js";
import type { Domain } from "../src/hv/domain.js";
import { PAGE_SIZE } from "../src/hv/memory.js";
import { copyMem } from "../src/netfront/copy.js";
import { NetfrontDriver } from "../src/netfront/xenbus.js";
import type { NetDevice } from "../src/stack/device.js";
import { NetStack } from "../src/stack/iface.js";
import { makeFrontDevice, netfrontOptionsOf } from "../src/toolstack/drivers.js";
import type { GuestArgs } from "../src/toolstack/host-proto.js";
import { writeMac } from "../src/wire/net/ethernet.js";
import { connectXenstore } from "../src/xenstore/domain-xenstored.js";

export type VifBenchRole = "tx" | "rx" | "ping" | "pong";

export interface VifBenchExtra {
  readonly role: VifBenchRole;
  readonly frameBytes: number;
  /** Distinct UDP flows the sender cycles through (to spread over queues). */
  readonly flows: number;
  /** The peer's MAC (48-bit number) and IPv4 address. */
  readonly peerMac: number;
  readonly peerIp: number;
  /** Float64 words, see W_*. */
  readonly words: SharedArrayBuffer;
  /** Pings to send (role "ping"); their RTTs in µs land in `rtts`. */
  readonly pings: number;
  /** Pings sent and answered before those, not recorded (the JIT's start). */
  readonly warmupPings?: number;
  readonly rtts: SharedArrayBuffer;
  /** A sender that waits for W_GO before its first frame (bench scale and storm time the boot). */
  readonly waitGo?: boolean;
}

export const W_TX = 0;
export const W_RX = 1;
export const W_RX_BYTES = 2;
/** 1 once the vif is Connected (the frontend's probe resolved). */
export const W_READY = 3;
export const W_PINGS_DONE = 4;
export const W_REFUSED = 5;
/** 1 once the pinger finished (W_PINGS_DONE then holds how many RTTs it recorded). */
export const W_PINGS_FINISHED = 6;
/** Set by the host when senders may start (every vif connected): boot is timed without traffic. */
export const W_GO = 7;
export const W_WORDS = 8;

/** Frames a sender hands netfront before it lets the loop run (its events, the backend). */
const BUDGET = 256;
/** Frames of one flow sent back to back before the next flow's. */
const FLOW_RUN = 16;

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const x = args.extra as VifBenchExtra;
  const w = new Float64Array(x.words);
  const spec = args.vifs[0];
  const xs = await connectXenstore(dom);
  const start = async (): Promise<void> => {
    let stack: NetStack | null = null;
    let onWritable = (): void => {};
    const cfg = spec.vif;
    const driver = await NetfrontDriver.probe(dom, xs, cfg.devid, {
      makeDevice: (info) => {
        const dev = makeFrontDevice(dom, info, cfg.passthrough === true, cfg.passthroughSlots);
        if (x.role === "ping" || x.role === "pong") {
          const s = new NetStack(dev, { ip: cfg.ip!.value, prefixLen: cfg.ip!.prefix, timers: dom.timers });
          stack = s;
          dev.onReceive((f, off, len, flags) => s.receive(f, off, len, flags));
          dev.onWritable(() => s.onWritable());
        } else {
          dev.onReceive((_f, _off, len) => {
            w[W_RX]++;
            w[W_RX_BYTES] += len;
          });
          // A receiver that never transmits stays unknown to the switch, which floods every
          // frame sent to it to every port (a learning bridge's rule): with n guests each
          // frame would be delivered n-1 times. The MAC is announced once, at carrier (the
          // onWritable that a refused first try asks for), as any host's first ARP would.
          let announced = false;
          dev.onWritable(() => {
            if (!announced) announced = announce(dev);
            onWritable();
          });
          announced = announce(dev);
        }
        if (x.role === "tx") onWritable = blaster(dom, dev, x, w);
        return dev;
      },
      ...netfrontOptionsOf(cfg),
    });
    void driver;
    w[W_READY] = 1;
    const st = stack as NetStack | null;
    if (st !== null) {
      st.up();
      if (x.role === "ping") void pinger(st, x, w);
    }
    if (x.role === "tx") {
      // Checked on a timer, not spun on: the sender sleeps until the host says go.
      const t = dom.timers.every(5, () => {
        if (w[W_GO] !== 1) return;
        dom.timers.cancel(t);
        onWritable();
      });
    }
  };
  // The host writes device/vif/0 after this program's main returns: follow it.
  void (async () => {
    const wt = await xs.watch(`/local/domain/${dom.domid}/device/vif/${spec.vif.devid}`);
    for await (const _ of wt) {
      if (await xs.exists(`/local/domain/${dom.domid}/device/vif/${spec.vif.devid}/backend`)) break;
    }
    wt.close?.();
    await start();
  })().catch((e: unknown) => dom.report({ t: "log", line: `bench guest ${dom.domid}: ${String(e)}` }));
}

/**
 * Returns the "send more" function: sends until refused (then onWritable calls it again).
 * Each frame is built in a TX buffer netfront lends (no copy by netfront, no view made per
 * frame): its flow's template, kept in a page of the guest's own memory, is copied in with
 * one same-buffer copy, as a sender would write its headers and payload. Frames above a
 * page (which a lend cannot hold) go through `transmit`.
 */
function blaster(dom: Domain, dev: NetDevice, x: VifBenchExtra, w: Float64Array): () => void {
  const len = x.frameBytes;
  const nFlows = Math.max(1, x.flows);
  const frames = Array.from({ length: nFlows }, (_, i) => {
    const f = demoFrame(len);
    const dv = new DataView(f.buffer, f.byteOffset);
    writeMac(dv, 0, x.peerMac);
    writeMac(dv, 6, dev.mac);
    dv.setUint32(30, x.peerIp);
    dv.setUint16(34, 4000 + i);
    return f;
  });
  const mem = len <= PAGE_SIZE ? dev.txMem : undefined;
  // The templates, 8-aligned, in pages of the guest's memory that are never granted.
  const stride = (len + 7) & ~7;
  const tpl = new Int32Array(nFlows);
  if (mem !== undefined) {
    const perPage = Math.floor(PAGE_SIZE / stride);
    const pages = dom.pages.allocMany(Math.ceil(nFlows / perPage));
    if (pages === null) throw new Error(`bench guest ${dom.domid}: no memory for the sender's templates`);
    for (let i = 0; i < nFlows; i++) {
      tpl[i] = pages[Math.floor(i / perPage)] * PAGE_SIZE + (i % perPage) * stride;
      mem.u8.set(frames[i], tpl[i]);
    }
  }
  let flow = 0;
  let run = 0;
  let scheduled = false;
  const send = (): void => {
    scheduled = false;
    if (x.waitGo === true && w[W_GO] !== 1) return; // the GO timer calls us
    for (let i = 0; i < BUDGET; i++) {
      if (mem !== undefined) {
        const at = dev.txBuffer!(len);
        if (at < 0) {
          w[W_REFUSED]++;
          return; // onWritable calls us again
        }
        copyMem(mem, at, mem, tpl[flow], len);
        dev.txCommit!(len, 0);
      } else if (!dev.transmit(frames[flow], len, 0)) {
        w[W_REFUSED]++;
        return;
      }
      w[W_TX]++;
      // Flows in runs: a lend comes from the queue the last frame took, so a run of one
      // flow is built in its own queue's buffers (a flow change may cost one copy).
      if (++run === FLOW_RUN) {
        run = 0;
        flow = flow + 1 === nFlows ? 0 : flow + 1;
      }
    }
    if (!scheduled) {
      scheduled = true;
      dom.loop.defer(send);
    }
  };
  return send;
}

/** One broadcast frame from the device's MAC (local experimental EtherType 0x88b5): sent? */
function announce(dev: NetDevice): boolean {
  const f = new Uint8Array(60);
  const dv = new DataView(f.buffer);
  writeMac(dv, 0, 0xffffffffffff);
  writeMac(dv, 6, dev.mac);
  dv.setUint16(12, 0x88b5);
  return dev.transmit(f, f.length, 0);
}

async function pinger(stack: NetStack, x: VifBenchExtra, w: Float64Array): Promise<void> {
  const rtts = new Float64Array(x.rtts);
  // The first echo resolves ARP, the next run through code not yet compiled: not samples.
  await stack.ping(x.peerIp, { timeoutMs: 2000 });
  for (let i = 0; i < (x.warmupPings ?? 0); i++) await stack.ping(x.peerIp, { timeoutMs: 1000 });
  let n = 0;
  for (let i = 0; i < x.pings; i++) {
    const r = await stack.ping(x.peerIp, { timeoutMs: 1000 });
    if (r.ok) rtts[n++] = r.rttMs * 1000;
  }
  w[W_PINGS_DONE] = n;
  w[W_PINGS_FINISHED] = 1;
}
