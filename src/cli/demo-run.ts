/**
 * `pvnet demo`: boots a machine with Domain-0 as the driver domain and one guest sending
 * frames to it over a multi-page netif TX ring, and prints live counters once a second.
 */
import { startRingPair } from "../../bench/ring-pair.js";
import type { Counters } from "../base/counters.js";
import type { BackCounter, GuestCounter } from "../demo/ring-proto.js";
import type { LoopMode } from "../hv/loop.js";
import { exitAfterSignal, shutdownSignals } from "./signals.js";

export interface DemoRun {
  frameBytes: number;
  batch: number;
  order: number;
  mode: LoopMode;
  seconds: number;
  json: boolean;
  echo: boolean;
}

export async function runDemo(o: DemoRun): Promise<void> {
  // Ours for good from here (signals.ts): a second Ctrl-C while stopping changes nothing.
  const signals = shutdownSignals();
  const pair = await startRingPair({
    frameBytes: o.frameBytes,
    batch: o.batch,
    order: o.order,
    mode: o.mode,
    echo: o.echo,
  });
  const out = (s: string): boolean => (o.json ? process.stderr.write(s) : process.stdout.write(s));
  out(
    `pvnet demo: guest -> Domain-0 over a ${256 << o.order}-slot TX ring (order ${o.order})` +
      `${o.echo ? `, Domain-0 -> guest over a ${256 << o.order}-slot RX ring (grant copy)` : ""}; ` +
      `${o.frameBytes}-byte frames, batch ${o.batch}, ${o.mode} mode\n`,
  );
  out("   time     guest tx      dom0 rx     guest rx  tx Mpps  rx Mpps  notifies(g/b)  dropped  errors\n");
  if (o.echo)
    out(
      "   (dropped: echoes Domain-0 discarded because the guest had no RX buffer posted at that moment:\n" +
        "    the guest is busy sending and reposts late, a receiver overrun counted as netback counts it)\n",
    );
  const t0 = performance.now();
  let last = { t: t0, rx: 0, back: 0 };
  let stopping = false;
  const done = new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const { g, b } = snapshot(pair);
      const txMpps = (b.rxFrames - last.back) / (now - last.t) / 1000;
      const rxMpps = (g.rxFrames - last.rx) / (now - last.t) / 1000;
      last = { t: now, rx: g.rxFrames, back: b.rxFrames };
      const errors =
        g.rspErrors +
        g.protoErrors +
        g.rxErrors +
        g.rxSeqErrors +
        b.seqErrors +
        b.badRequests +
        b.protoErrors +
        b.copyErrors;
      out(
        `${((now - t0) / 1000).toFixed(0).padStart(6)}s ${fmt(g.txFrames)} ${fmt(b.rxFrames)} ${fmt(g.rxFrames)} ` +
          `${txMpps.toFixed(2).padStart(8)} ${rxMpps.toFixed(2).padStart(8)}  ${`${g.notifies}/${b.notifies}`.padStart(13)}` +
          `  ${String(b.echoDropped).padStart(7)}  ${errors}\n`,
      );
    }, 1000);
    // --for may be a fraction of the one-second tick.
    const end = Number.isFinite(o.seconds) ? setTimeout(() => finish(), o.seconds * 1000) : undefined;
    const finish = (): void => {
      if (stopping) return;
      stopping = true;
      clearInterval(tick);
      clearTimeout(end);
      resolve();
    };
    void signals.first.then(finish);
  });
  await done;
  const { g, b } = snapshot(pair);
  const seconds = (performance.now() - t0) / 1000;
  const status = {
    settings: {
      frameBytes: o.frameBytes,
      batch: o.batch,
      order: o.order,
      ringSlots: 256 << o.order,
      mode: o.mode,
      echo: o.echo,
      seconds: Number.isFinite(o.seconds) ? o.seconds : null,
    },
    rates: {
      txMpps: b.rxFrames / seconds / 1e6,
      txGbps: (b.rxBytes * 8) / seconds / 1e9,
      rxMpps: g.rxFrames / seconds / 1e6,
      rxGbps: (g.rxBytes * 8) / seconds / 1e9,
    },
    domains: pair.machine.status(),
    guest: g,
    back: b,
    seconds,
  };
  await pair.stop();
  if (o.json) process.stdout.write(`${JSON.stringify(status)}\n`);
  else
    out(
      `stopped: ${status.back.rxFrames} frames to Domain-0 and ${status.guest.rxFrames} back to the guest, ` +
        `${status.back.seqErrors + status.guest.rxSeqErrors} out of sequence\n`,
    );
  if (signals.received !== null) exitAfterSignal();
}

/**
 * Reads the counters downstream first (guest rx, then Domain-0, then guest tx): each frame is
 * counted upstream before it moves on, so a later read of an upstream counter can only be
 * larger and `dom0 rx` never shows above `guest tx`, nor `guest rx` above what Domain-0 echoed.
 */
function snapshot(pair: { guest: Counters<GuestCounter>; back: Counters<BackCounter> }) {
  const rxFrames = pair.guest.get("rxFrames");
  const rxBytes = pair.guest.get("rxBytes");
  const b = pair.back.snapshot();
  const g = { ...pair.guest.snapshot(), rxFrames, rxBytes };
  return { g, b };
}

function fmt(n: number): string {
  return n.toLocaleString("en-US").padStart(12);
}
