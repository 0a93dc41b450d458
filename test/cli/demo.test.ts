import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type DemoOpts, parseDemoOpts } from "../../src/cli/demo.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const base: DemoOpts = { frame: "64", batch: "32", order: "2", mode: "notify", echo: true };

test("demo options: a batch larger than the ring, and every malformed value, is one line saying what is wrong", () => {
  const bad: [Partial<DemoOpts>, string][] = [
    [{ batch: "257", order: "0" }, "--batch 257 is larger than the ring (256 slots at --order 0)"],
    [{ batch: "1024", order: "1" }, "--batch 1024 is larger than the ring (512 slots at --order 1)"],
    [{ batch: "0" }, '--batch "0" is not allowed (an integer from 1 to 1024)'],
    [{ batch: "" }, '--batch "" is not allowed (an integer from 1 to 1024)'],
    [{ frame: "45" }, '--frame "45" is not allowed (an integer from 46 to 2048)'],
    [{ frame: "64.5" }, '--frame "64.5" is not allowed (an integer from 46 to 2048)'],
    [{ order: "5" }, '--order "5" is not allowed (an integer from 0 to 4)'],
    [{ mode: "spin" }, '--mode "spin" is not a mode (notify, hybrid or poll)'],
    [{ for: "0" }, '--for "0" is not allowed (seconds, more than 0 and at most 86400; fractions allowed)'],
    [{ for: "x" }, '--for "x" is not allowed (seconds, more than 0 and at most 86400; fractions allowed)'],
    [{ for: " " }, '--for " " is not allowed (seconds, more than 0 and at most 86400; fractions allowed)'],
  ];
  for (const [o, want] of bad) assert.equal(parseDemoOpts({ ...base, ...o }), want, JSON.stringify(o));
  const ok = parseDemoOpts({ ...base, batch: "256", order: "0", for: "1.5" });
  assert.deepEqual(ok, {
    frameBytes: 64,
    batch: 256,
    order: 0,
    mode: "notify",
    seconds: 1.5,
    json: false,
    echo: true,
  });
  assert.equal((parseDemoOpts({ ...base, batch: "1024", order: "2" }) as { batch: number }).batch, 1024);
});

test("pvnet demo --batch 257 --order 0 exits 1 with the reason and starts nothing", () => {
  const r = spawnSync(process.execPath, [MAIN, "demo", "--batch", "257", "--order", "0", "--no-echo"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "pvnet demo: --batch 257 is larger than the ring (256 slots at --order 0)\n");
  assert.equal(r.stdout, "");
});

test("pvnet demo --for 0.4 --json: settings, rates and counters that never show more downstream than upstream", () => {
  const r = spawnSync(
    process.execPath,
    [MAIN, "demo", "--for", "0.4", "--json", "--order", "0", "--batch", "256"],
    {
      encoding: "utf8",
      timeout: 30_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  // A normal exit is no disconnect: the guest says it is leaving before its channel closes.
  assert.doesNotMatch(r.stderr, /disconnected/);
  const d = JSON.parse(r.stdout) as {
    settings: Record<string, unknown>;
    rates: Record<string, number>;
    guest: Record<string, number>;
    back: Record<string, number>;
    seconds: number;
  };
  assert.deepEqual(d.settings, {
    frameBytes: 64,
    batch: 256,
    order: 0,
    ringSlots: 256,
    mode: "notify",
    echo: true,
    seconds: 0.4,
  });
  assert.ok(d.seconds >= 0.4 && d.seconds < 1.5, `ran ${d.seconds} s`);
  assert.ok(d.back.rxFrames > 0, "frames moved");
  assert.ok(d.guest.txFrames >= d.back.rxFrames, "dom0 rx never above guest tx");
  assert.ok(d.back.rxFrames >= d.guest.rxFrames, "guest rx never above dom0 rx");
  assert.equal(d.rates.txMpps, d.back.rxFrames / d.seconds / 1e6);
  assert.equal(d.rates.rxMpps, d.guest.rxFrames / d.seconds / 1e6);
});
