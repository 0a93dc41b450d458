// The sending and receiving guests' CPU time per frame in `pvnet bench vif`'s setup (guest1
// -> VALE -> guest2, event-driven), from each guest thread's schedstat over a 2.5 s window
// after 1.5 s of warm-up: a figure load disturbs far less than the rate. TREE is a checkout
// with a built dist/ (this one, or another to compare, read-only). Prints one JSON line.
// Run after `npm run -s build`: node scripts/sender-cpu.mjs [TREE] [64|1500] [queues] [copy|staging]
import { resolve } from "node:path";

const [treeArg = ".", fb = "64", qs = "1", mode = "copy"] = process.argv.slice(2);
const tree = resolve(treeArg);
const { parseHostConfig } = await import(`${tree}/dist/src/toolstack/config.js`);
const { Host } = await import(`${tree}/dist/src/toolstack/host.js`);
const frameBytes = Number(fb);
const queues = Number(qs);
const vif = (mac, ip) =>
  `    vifs:\n      - mac: "${mac}"\n        ip: ${ip}/24\n        queues: ${queues}\n        ring-page-order: 2\n` +
  `        trusted: true\n        staging-grants: ${mode === "staging"}\n        rx-mode: copy\n`;
const yaml =
  "domains:\n  - name: Domain-0\n    memory: 128M\n" +
  `  - name: guest1\n    memory: 64M\n${vif("00:16:3e:00:01:00", "10.0.0.1")}` +
  `  - name: guest2\n    memory: 64M\n${vif("00:16:3e:00:02:00", "10.0.0.2")}` +
  "bridges:\n  vale0: {}\n";
const r = parseHostConfig(yaml, "(sender-cpu)");
if (!r.ok) throw new Error(`sender-cpu host: ${r.issues[0].field}: ${r.issues[0].problem}`);
const extras = ["tx", "rx"].map((role, i) => ({
  role,
  frameBytes,
  flows: queues * 8,
  peerMac: i === 0 ? 0x00163e000200 : 0x00163e000100,
  peerIp: i === 0 ? 0x0a000002 : 0x0a000001,
  words: new SharedArrayBuffer(16 * 8),
  pings: 0,
  rtts: new SharedArrayBuffer(8),
  tree,
  cpu: new SharedArrayBuffer(16),
}));
const host = await Host.boot(r.config, {
  socketPath: null,
  guestProgram: new URL("./sender-cpu-guest.mjs", import.meta.url),
  guestExtra: (i) => extras[i],
  loopMode: "notify",
});
const words = extras.map((e) => new Float64Array(e.words));
const cpus = extras.map((e) => new Float64Array(e.cpu));
const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
try {
  // vif-guest's W_READY (3) and W_GO (7).
  for (let t = 0; t < 200 && !words.every((w) => w[3] === 1); t++) await sleep(50);
  for (const w of words) w[7] = 1;
  await sleep(1500);
  const s0 = cpus.map((c) => [c[0], c[1]]);
  const n0 = words[1][1];
  const t0 = performance.now();
  await sleep(2500);
  const s1 = cpus.map((c) => [c[0], c[1]]);
  const n1 = words[1][1];
  const perFrame = (k) => +((s1[k][0] - s0[k][0]) / (s1[k][1] - s0[k][1])).toFixed(1);
  console.log(
    JSON.stringify({
      tree,
      frameBytes,
      queues,
      mode,
      mpps: +((n1 - n0) / (performance.now() - t0) / 1000).toFixed(3),
      senderNsPerFrame: perFrame(0),
      receiverNsPerFrame: perFrame(1),
    }),
  );
} finally {
  await host.shutdown();
}
