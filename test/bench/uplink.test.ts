import assert from "node:assert/strict";
import { test } from "node:test";
import { benchUplink } from "../../bench/uplink.js";

test("bench uplink: send and receive rows beside their bare-socket ceilings, with the ratio", async () => {
  const rows = await benchUplink({ quick: true });
  const names = rows.map((r) => `${r.name} ${r.frameBytes}`);
  for (const size of [60, 1464])
    for (const n of [
      "bare Node UDP send (ceiling)",
      "guest -> VALE -> VXLAN uplink send",
      "guest -> VALE -> VXLAN uplink send (node:dgram)",
      "guest vif -> netback -> VALE -> VXLAN uplink send",
      "bare Node UDP receive (ceiling)",
      "VXLAN uplink receive -> VALE -> guest",
      "VXLAN uplink receive -> VALE -> guest (node:dgram)",
    ])
      assert.ok(names.includes(`${n} ${size}`), `${n} ${size} in ${names.join(", ")}`);
  for (const r of rows) {
    assert.ok(r.mpps > 0, `${r.name} ${r.frameBytes}: a rate was measured`);
    assert.ok(Math.abs(r.gbps - (r.mpps * r.frameBytes * 8) / 1000) < 1e-9);
    assert.ok(typeof r.cpuUsPerPacket === "number" && r.cpuUsPerPacket > 0, `${r.name}: CPU per packet`);
    if (!r.name.includes("ceiling")) assert.equal(typeof r.ofCeilingByCpu, "number");
    if (!r.name.includes("ceiling")) assert.equal(typeof r.ofCeiling, "number");
  }
});
