// Where each domain thread of `bench vif` allocates (64 B, one queue): the sampling heap
// profiler inside each domain (src/hv/heap-sampler.ts, collected objects included) for a
// 2.5 s window inside a measured one, each site's share of the sampled bytes scaled by the
// thread probe's exact young-generation bytes per frame over the measured window, printed as
// bytes per 10^7 frames. A site is a function and its callers (inlined callees allocate in
// their caller's name). Run after `npm run -s build`:
//   node scripts/vif-alloc-sites.mjs [staging|copies|flip|passthrough] [top=12]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const path = process.argv[2] ?? "staging";
const top = Number(process.argv[3] ?? 12);
const ARGS = {
  staging: [],
  copies: ["notify", true, false],
  flip: ["notify", true, false, undefined, "flip"],
  passthrough: ["notify", true, false, undefined, "copy", true],
};
if (!(path in ARGS)) {
  process.stderr.write(`vif-alloc-sites: no path ${path} (${Object.keys(ARGS).join(", ")})\n`);
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), "pvnet-alloc-"));
// Read by each domain worker as it starts: sampling from 3 s after its start, for 2.5 s.
process.env.PVNET_HEAP_SAMPLE = `${dir},3000,2500,256`;
const { measureVif } = await import("../dist/bench/vif.js");
try {
  const r = await measureVif(64, 1, 200, 7000, ...ARGS[path]);
  console.log(`${path}: ${r.mpps.toFixed(2)} Mpps, ${r.frames} frames in the measured window`);
  for (const [who, name] of [
    ["tx", "guest1"],
    ["dom0", "Domain-0"],
    ["rx", "guest2"],
  ]) {
    const s = r.threads[who];
    const perFrame = s.allocBytes / r.frames;
    const sites = new Map();
    const walk = (n, stack) => {
      const f = n.callFrame;
      const here = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/dist\//, "")}:${f.lineNumber + 1}`;
      const st = [...stack, here];
      if (n.selfSize > 0) {
        const key = st.slice(-3).reverse().join(" < ");
        sites.set(key, (sites.get(key) ?? 0) + n.selfSize);
      }
      for (const c of n.children) walk(c, st);
    };
    walk(JSON.parse(readFileSync(join(dir, `${name}.heapprofile`), "utf8")).head, []);
    const total = [...sites.values()].reduce((a, b) => a + b, 0);
    console.log(
      `\n${who} (${name}): ${perFrame.toFixed(3)} B/frame, ${((perFrame * 1e7) / 1e6).toFixed(1)} MB per 10^7 frames; ${s.minorGcs} minor GCs`,
    );
    for (const [site, bytes] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`${(((bytes / total) * perFrame * 1e7) / 1e6).toFixed(2).padStart(8)} MB  ${site}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
