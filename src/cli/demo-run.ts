/**
 * `pvnet demo`: boots a machine with Domain-0 as the driver domain and one guest sending
 * frames to it over a multi-page netif TX ring, and prints live counters once a second.
 */
import { startRingPair } from "../../bench/ring-pair.js";
import type { LoopMode } from "../hv/loop.js";

export interface DemoRun {
  frameBytes: number;
  batch: number;
  order: number;
  mode: LoopMode;
  seconds: number;
  json: boolean;
}

export async function runDemo(o: DemoRun): Promise<void> {
  const pair = await startRingPair({
    frameBytes: o.frameBytes,
    batch: o.batch,
    order: o.order,
    mode: o.mode,
  });
  const out = (s: string): boolean => (o.json ? process.stderr.write(s) : process.stdout.write(s));
  out(
    `pvnet demo: Domain-0 (driver domain) <- guest over a ${256 << o.order}-slot TX ring (order ${o.order}), ` +
      `${o.frameBytes}-byte frames, batch ${o.batch}, ${o.mode} mode\n`,
  );
  out("   time     guest tx      dom0 rx    Mpps  Gbit/s  notifies(g/b)  errors\n");
  const t0 = performance.now();
  let last = { t: t0, rx: 0 };
  let stopping = false;
  const done = new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const g = pair.guest.snapshot();
      const b = pair.back.snapshot();
      const mpps = (b.rxFrames - last.rx) / (now - last.t) / 1000;
      last = { t: now, rx: b.rxFrames };
      const errors = g.rspErrors + g.protoErrors + b.seqErrors + b.badRequests + b.protoErrors;
      out(
        `${((now - t0) / 1000).toFixed(0).padStart(6)}s ${fmt(g.txFrames)} ${fmt(b.rxFrames)} ${mpps.toFixed(2).padStart(7)} ` +
          `${((mpps * o.frameBytes * 8) / 1000).toFixed(2).padStart(7)}  ${`${g.notifies}/${b.notifies}`.padStart(13)}  ${errors}\n`,
      );
      if (now - t0 >= o.seconds * 1000) finish();
    }, 1000);
    const finish = (): void => {
      if (stopping) return;
      stopping = true;
      clearInterval(tick);
      resolve();
    };
    process.once("SIGINT", finish);
    process.once("SIGTERM", finish);
  });
  await done;
  const status = {
    domains: pair.machine.status(),
    guest: pair.guest.snapshot(),
    back: pair.back.snapshot(),
    seconds: (performance.now() - t0) / 1000,
  };
  await pair.stop();
  if (o.json) process.stdout.write(`${JSON.stringify(status)}\n`);
  else out(`stopped: ${status.back.rxFrames} frames delivered, ${status.back.seqErrors} out of sequence\n`);
}

function fmt(n: number): string {
  return n.toLocaleString("en-US").padStart(12);
}
