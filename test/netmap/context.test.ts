import assert from "node:assert/strict";
import { test } from "node:test";
import { PvnetError } from "../../src/base/errors.js";
import { NetmapContext } from "../../src/netmap/context.js";
import { NetmapRegion } from "../../src/netmap/mem.js";
import { createPipe, PipeEnd } from "../../src/netmap/pipe.js";
import { installVale } from "../../src/vale/install.js";

function ctx() {
  const c = new NetmapContext();
  let id = 10;
  c.pipeRegion = (slots) =>
    new NetmapRegion(id++, { ifBytes: 1024, ringBytes: 4 * (256 + slots * 16 + 64), nBufs: 4 * slots + 2 });
  const vale = installVale(c, 64);
  return { c, vale };
}

test("valeX:port opens create the switch and the port on first use", () => {
  const { c, vale } = ctx();
  const a = c.open("vale0:a");
  const again = c.open("vale0:a");
  c.open("vale1:a");
  assert.equal(a.tx.length, 1);
  assert.equal(a.rx.length, 1);
  assert.deepEqual([...vale.switches.keys()], ["vale0", "vale1"]);
  assert.equal(vale.ports.size, 2);
  assert.equal(again.adapter, a.adapter);
  assert.throws(() => c.open("vale0:a^"), /no host rings/);
});

test("pipe ends by name share one pipe; /R and /T bind one direction", () => {
  const { c } = ctx();
  const m = c.open("vale0:x{3");
  const s = c.open("vale0:x}3/R");
  assert.equal(m.tx.length + m.rx.length, 2);
  assert.deepEqual([s.tx.length, s.rx.length], [0, 1]);
  assert.equal(m.region, s.region);
});

test("netmap:NAME opens attached devices by registration mode", () => {
  const { c } = ctx();
  const region = new NetmapRegion(3, {
    ifBytes: 2048,
    ringBytes: 8 * (256 + 64 * 16 + 64),
    nBufs: 8 * 64 + 2,
  });
  const p1 = createPipe(region, "fake", 64);
  const p2 = createPipe(region, "fake2", 64);
  const adapter = new PipeEnd(region, p1, true);
  c.attach({
    name: "eth0",
    adapter,
    region,
    txRings: [p1.rings[0], p2.rings[0]],
    rxRings: [p1.rings[1], p2.rings[1]],
    hostTxRings: [p1.rings[2]],
    hostRxRings: [p1.rings[3]],
  });
  assert.deepEqual(
    ["netmap:eth0", "netmap:eth0^", "netmap:eth0*", "netmap:eth0-1", "netmap:eth0-1/T"].map((n) => {
      const p = c.open(n);
      return [p.tx.length, p.rx.length];
    }),
    [
      [2, 2],
      [1, 1],
      [3, 3],
      [1, 1],
      [1, 0],
    ],
  );
  assert.throws(() => c.open("netmap:eth0-2"), /has no ring 2/);
  assert.throws(
    () => c.open("netmap:eth9"),
    (e: unknown) => e instanceof PvnetError && e.code === "ENXIO",
  );
  assert.throws(
    () => c.open("eth0"),
    (e: unknown) => e instanceof PvnetError && e.code === "EINVAL",
  );
});
