/** `pvnet up`'s view as text: rates over a real window, the last frame's header. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { rateBase, type Sample, viewHeader, viewLines } from "../../src/cli/up-view.js";
import { VIF_QUEUE_COUNTERS, type VifQueueCounter } from "../../src/netback/counters.js";
import { STACK_COUNTER_NAMES, type StackCounterName } from "../../src/stack/counters.js";
import type { VifStatus } from "../../src/toolstack/host.js";

/** One busy vif whose netback has sent `packets` frames, sampled at `atMs`. */
function sample(atMs: number, packets: number): Sample {
  const counters = Object.fromEntries(VIF_QUEUE_COUNTERS.map((n) => [n, 0])) as Record<
    VifQueueCounter,
    number
  >;
  counters.tx_packets = packets;
  counters.tx_bytes = packets * 100;
  const vif: VifStatus = {
    name: "vif1.0",
    domid: 1,
    domain: "guest1",
    devid: 0,
    mac: "00:16:3e:00:00:01",
    ip: "10.0.0.1/24",
    bridge: "vale0",
    frontend: { state: 4, stateName: "Connected" },
    backend: { state: 4, stateName: "Connected" },
    hotplug: "connected",
    fatal: false,
    queues: 1,
    ringPageOrder: 0,
    splitEventChannels: false,
    grantMappings: 0,
    counters,
    stack: Object.fromEntries(STACK_COUNTER_NAMES.map((n) => [n, 0])) as Record<StackCounterName, number>,
  };
  return { atMs, status: { domains: [], vifs: [vif], pings: [], uplinks: [], bridges: [] } };
}

/** The TX pps cell of vif1.0's row. */
function txPps(lines: string[]): string {
  const head = lines.find((l) => l.startsWith("VIF"))!;
  const row = lines.find((l) => l.startsWith("vif1.0"))!;
  return row.slice(head.indexOf("TX pps")).split(/\s+/)[0]!;
}

test("rateBase: the newest sample at least half a second old, else the oldest", () => {
  const s0 = sample(0, 0);
  const s1 = sample(1000, 0);
  assert.equal(rateBase(sample(2000, 0), [s0, s1]), s1);
  assert.equal(rateBase(sample(1040, 0), [s0, s1]), s0);
  assert.equal(rateBase(sample(100, 0), [s0]), s0);
  assert.equal(rateBase(sample(100, 0), []), undefined);
});

test("the last frame, moments after the one before, keeps the measured rate instead of 0 pps", () => {
  const s0 = sample(0, 0);
  const s1 = sample(1000, 1000);
  // Ctrl-C 40 ms later: Domain-0 has not copied the counters again since s1.
  const last = sample(1040, 1000);
  assert.equal(txPps(viewLines(s1, rateBase(s1, [s0]), viewHeader(1, false))), "1.00k");
  assert.equal(txPps(viewLines(last, rateBase(last, [s0, s1]), viewHeader(1.04, true))), "962");
});

test("the last frame's header says it is the last, not another tick of the clock", () => {
  assert.equal(viewHeader(3.2, false), "-- 3s (Ctrl-C to stop)");
  assert.equal(viewHeader(3.24, true), "-- last view, after 3.2s");
  assert.equal(viewLines(sample(0, 0), undefined, viewHeader(3.24, true))[0], "-- last view, after 3.2s");
});
