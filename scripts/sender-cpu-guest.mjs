// The guest program of scripts/sender-cpu.mjs: bench vif's guest (from the tree named in
// `extra.tree`), plus a 20 ms timer that publishes the thread's CPU time
// (/proc/thread-self/schedstat, ns) beside its frame count, so the host can take the CPU
// per frame over a window. Reads a file every 20 ms, not per frame.
import { readFileSync } from "node:fs";

export default async function main(dom, args) {
  const x = args.extra;
  const mod = await import(`${x.tree}/dist/bench/vif-guest.js`);
  const cpu = new Float64Array(x.cpu);
  const words = new Float64Array(x.words);
  const read = () => Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]);
  dom.timers.every(20, () => {
    cpu[0] = read();
    cpu[1] = x.role === "tx" ? words[0] : words[1]; // vif-guest's W_TX, W_RX
  });
  return mod.default(dom, args);
}
