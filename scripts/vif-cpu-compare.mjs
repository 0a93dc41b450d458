// CPU time per frame of each domain thread of `bench vif` (guest1 sends, Domain-0 forwards,
// guest2 receives), 64 B one queue, for two builds interleaved in one window: before/after
// figures of a change, each path run in turn on each build, median of the runs. A build
// with the thread probe (src/hv/thread-probe.ts) names its domains' threads; on one without
// it the three domain threads are the three newest of this process (Domain-0 created first),
// read from /proc/self/task. Rows: grant copies, staging grants, rx-mode=flip, passthrough;
// VIF_PATHS="1q staging grants,1q passthrough" runs only those; VIF_NURSERY_MB=64 boots the
// domains as bench vif does (a build without src/hv/nursery.ts ignores it).
// Run after `npm run -s build` in both trees:
//   node scripts/vif-cpu-compare.mjs /work/main/dist dist [runs=3] [windowMs=1500]
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [before, after, runsArg, windowArg] = process.argv.slice(2);
if (before === undefined || after === undefined) {
  process.stderr.write("usage: vif-cpu-compare.mjs BEFORE_DIST AFTER_DIST [runs] [windowMs]\n");
  process.exit(2);
}
const RUNS = Number(runsArg ?? 3);
const WINDOW_MS = Number(windowArg ?? 1500);
const PATHS = {
  "1q copy": { staging: false, rxMode: "copy" },
  "1q staging grants": { staging: true, rxMode: "copy" },
  "1q rx-mode=flip": { staging: false, rxMode: "flip" },
  "1q passthrough": { staging: true, rxMode: "copy", passthrough: true },
};
// Only these paths: a comma-separated list of PATHS keys in $VIF_PATHS (default: all).
const only = process.env.VIF_PATHS?.split(",").map((s) => s.trim());
if (only !== undefined) for (const k of Object.keys(PATHS)) if (!only.includes(k)) delete PATHS[k];

async function load(dist) {
  const url = (p) => pathToFileURL(resolve(dist, p)).href;
  const [{ Host }, { parseHostConfig }, guest, { warmUp, until, sleep }] = await Promise.all([
    import(url("src/toolstack/host.js")),
    import(url("src/toolstack/config.js")),
    import(url("bench/vif-guest.js")),
    import(url("bench/wait.js")),
  ]);
  return { Host, parseHostConfig, guest, warmUp, until, sleep, program: new URL(url("bench/vif-guest.js")) };
}

const tids = () =>
  readdirSync("/proc/self/task")
    .map(Number)
    .sort((a, b) => a - b);
const cpu = (tid) => Number(readFileSync(`/proc/self/task/${tid}/schedstat`, "latin1").split(" ")[0]);

async function once(b, path) {
  const { staging, rxMode, passthrough = false } = PATHS[path];
  const vif = (mac, ip) =>
    `    vifs:\n      - mac: "${mac}"\n        ip: ${ip}/24\n        queues: 1\n        ring-page-order: 2\n` +
    `        trusted: true\n        staging-grants: ${staging}\n        rx-mode: ${rxMode}\n` +
    (passthrough ? "        passthrough: true\n" : "");
  const yaml =
    "domains:\n  - name: Domain-0\n    memory: 128M\n" +
    `  - name: guest1\n    memory: 64M\n${vif("00:16:3e:00:01:00", "10.0.0.1")}` +
    `  - name: guest2\n    memory: 64M\n${vif("00:16:3e:00:02:00", "10.0.0.2")}` +
    "bridges:\n  vale0: {}\n";
  const cfg = b.parseHostConfig(yaml, "(compare)");
  const g = b.guest;
  const extras = [0, 1].map((i) => ({
    role: i === 0 ? "tx" : "rx",
    frameBytes: 64,
    flows: 8,
    peerMac: i === 0 ? 0x00163e000200 : 0x00163e000100,
    peerIp: i === 0 ? 0x0a000002 : 0x0a000001,
    words: new SharedArrayBuffer(g.W_WORDS * 8),
    pings: 0,
    warmupPings: 0,
    rtts: new SharedArrayBuffer(8),
  }));
  const before = new Set(tids());
  const host = await b.Host.boot(cfg.config, {
    socketPath: null,
    guestProgram: b.program,
    guestExtra: (i) => extras[i],
    // bench vif's young generation (src/hv/nursery.ts) where the build has it (older ones ignore it).
    ...(process.env.VIF_NURSERY_MB === undefined ? {} : { nurseryMb: Number(process.env.VIF_NURSERY_MB) }),
  });
  try {
    // A build with the thread probe (src/hv/thread-probe.ts) names each domain's thread;
    // without it, the three newest threads of this process are the domains, in creation
    // order: Domain-0, guest1, guest2.
    const probe = host.machine.threadSample?.bind(host.machine);
    let cpuOf;
    if (probe !== undefined) {
      const id = (name) => host.machine.status().find((d) => d.name === name).domid;
      const ids = [id("guest1"), id("Domain-0"), id("guest2")];
      cpuOf = () => ids.map((d) => probe(d).cpuNs);
    } else {
      const fresh = tids().filter((t) => !before.has(t));
      const [dom0, tx, rx] = fresh.slice(-3);
      cpuOf = () => [tx, dom0, rx].map(cpu);
    }
    const words = extras.map((e) => new Float64Array(e.words));
    await b.until(() => words.every((w) => w[g.W_READY] === 1), 10_000, "both vifs Connected");
    for (const w of words) w[g.W_GO] = 1;
    const rxw = words[1];
    await b.warmUp(() => [rxw[g.W_RX]], 50_000, 200, 3000);
    const c0 = cpuOf();
    const n0 = rxw[g.W_RX];
    const t0 = performance.now();
    await b.sleep(WINDOW_MS);
    const n1 = rxw[g.W_RX];
    const ms = performance.now() - t0;
    const c1 = cpuOf();
    const n = n1 - n0;
    return {
      mpps: n / ms / 1000,
      tx: (c1[0] - c0[0]) / n,
      dom0: (c1[1] - c0[1]) / n,
      rx: (c1[2] - c0[2]) / n,
    };
  } finally {
    await host.shutdown();
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const builds = { before: await load(before), after: await load(after) };
const res = {};
for (let r = 0; r < RUNS; r++)
  for (const path of Object.keys(PATHS))
    for (const [name, b] of Object.entries(builds)) {
      const x = await once(b, path);
      (res[`${path} ${name}`] ??= []).push(x);
      process.stderr.write(`  run ${r + 1} ${path} ${name}: ${x.mpps.toFixed(3)} Mpps\n`);
    }
process.stdout.write("case                          Mpps  tx ns/f  dom0 ns/f  rx ns/f\n");
for (const [k, xs] of Object.entries(res)) {
  const m = (f) => median(xs.map((x) => x[f]));
  process.stdout.write(
    `${k.padEnd(28)}${m("mpps").toFixed(3).padStart(6)}${m("tx").toFixed(0).padStart(9)}` +
      `${m("dom0").toFixed(0).padStart(11)}${m("rx").toFixed(0).padStart(9)}\n`,
  );
}
