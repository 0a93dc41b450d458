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
  echo: boolean;
}

export async function runDemo(o: DemoRun): Promise<void> {
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
  const t0 = performance.now();
  let last = { t: t0, rx: 0, back: 0 };
  let stopping = false;
  const done = new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const g = pair.guest.snapshot();
      const b = pair.back.snapshot();
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
  else
    out(
      `stopped: ${status.back.rxFrames} frames to Domain-0 and ${status.guest.rxFrames} back to the guest, ` +
        `${status.back.seqErrors + status.guest.rxSeqErrors} out of sequence\n`,
    );
}

function fmt(n: number): string {
  return n.toLocaleString("en-US").padStart(12);
}
