import assert from "node:assert/strict";
import { test } from "node:test";
import { viewLines } from "../../src/cli/up-view.js";
import type { UplinkStatus } from "../../src/uplink/status.js";
import { VXLAN_COUNTERS } from "../../src/uplink/vxlan/counters.js";

function uplink(tx: number, rx: number, drops: number): UplinkStatus {
  const counters = Object.fromEntries(VXLAN_COUNTERS.map((n) => [n, 0])) as UplinkStatus["counters"];
  counters.tx_packets = tx;
  counters.rx_packets = rx;
  counters.rx_dropped = drops;
  counters.rx_errors = 3;
  return {
    bridge: "vale0",
    name: "vale0:vxlan0",
    type: "vxlan",
    local: "192.0.2.1",
    port: 4789,
    vni: 42,
    mtu: 1450,
    socket: "native",
    remotes: ["192.0.2.2"],
    counters,
    learnt: [{ mac: "02:00:00:00:00:01", remote: "192.0.2.2" }],
  };
}

const at = (atMs: number, u: UplinkStatus) => ({
  atMs,
  status: { domains: [], vifs: [], pings: [], uplinks: [u], bridges: [] },
});

test("the live view has a row per uplink: VNI, address, rates between samples, learnt MACs, drops, errors", () => {
  const lines = viewLines(at(2000, uplink(3000, 1000, 2)), at(1000, uplink(1000, 500, 0)), "head");
  const head = lines.findIndex((l) => l.startsWith("UPLINK"));
  assert.ok(head > 0, lines.join("\n"));
  assert.deepEqual(lines[head + 1]!.trim().split(/\s+/), [
    "vale0:vxlan0",
    "42",
    "192.0.2.1:4789",
    "2.00k",
    "500",
    "1",
    "2",
    "3",
  ]);
  const first = viewLines(at(2000, uplink(3000, 1000, 2)), undefined, "head");
  assert.match(first[first.findIndex((l) => l.startsWith("UPLINK")) + 1]!, /192\.0\.2\.1:4789\s+-\s+-/);
});
