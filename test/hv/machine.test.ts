import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Machine } from "../../src/hv/machine.js";
import { MACHINE } from "../../src/hv/worker-proto.js";

const program = new URL("./programs/evt-peer.js", import.meta.url);

function nextReport(m: Machine, pred: (d: number, data: { t: string; [k: string]: unknown }) => boolean) {
  return new Promise<{ t: string; [k: string]: unknown }>((resolve) => {
    const h = (d: number, data: { t: string }) => {
      if (pred(d, data)) {
        m.off("report", h);
        m.off("message", h);
        resolve(data);
      }
    };
    m.on("report", h);
    m.on("message", h);
  });
}

const machines: Machine[] = [];
after(async () => {
  for (const m of machines) await m.shutdown();
});

async function boot(rounds: number) {
  const m = new Machine();
  machines.push(m);
  await m.createDomain({ name: "dom0", pages: 16, program, args: { role: "back" } });
  const done = nextReport(m, (_d, x) => x.t === "rounds-done");
  const g = await m.createDomain({ name: "guest", pages: 64, program, args: { role: "guest", rounds } });
  return { m, g, done };
}

async function backStatus(m: Machine) {
  const p = nextReport(m, (d, x) => d === 0 && x.t === "status");
  m.post(0, { t: "status" });
  return p;
}

test("two domains ping-pong events over an interdomain channel", async () => {
  const { m, g, done } = await boot(2000);
  const r = await done;
  assert.equal(r.got, 2000);
  const st = await backStatus(m);
  // Binding marks the binder's new port pending (Xen does, in case the peer signalled
  // first), so dom0 sees one event more than the guest sent, unless the guest's first
  // send lands while that one is still pending: events coalesce.
  assert.ok(st.echoes === 2000 || st.echoes === 2001, `echoes ${st.echoes}`);
  assert.equal(st.spurious, 0);
  assert.equal(m.channels(0), 1);
  assert.equal(m.channels(g), 1);
});

test("closing one end is visible to the other, and bad hypercalls come back as typed errors", async () => {
  const { m, g, done } = await boot(1);
  await done;
  const bad = nextReport(m, (_d, x) => x.t === "bad-bind");
  m.post(g, { t: "bad-bind" });
  assert.equal((await bad).code, "EINVAL");
  const closed = nextReport(m, (_d, x) => x.t === "closed");
  m.post(g, { t: "close" });
  await closed;
  assert.equal(m.channels(g), 0);
  assert.equal(m.channels(0), 1, "dom0's end is unbound, not gone");
  const st = await backStatus(m);
  assert.deepEqual(st.closed, [1]);
});

test("pending bits a guest forges for ports not bound to it are dropped and counted", async () => {
  const { m, g, done } = await boot(1);
  await done;
  const forged = nextReport(m, (_d, x) => x.t === "forged");
  m.post(g, { t: "forge" });
  await forged;
  // dom0 handles the forged wake-up on its own schedule: look until it has, for up to 2 s.
  let st = await backStatus(m);
  for (let i = 0; i < 40 && st.spurious !== 63; i++) {
    await new Promise((r) => setTimeout(r, 50));
    st = await backStatus(m);
  }
  assert.equal(st.spurious, 63);
  assert.ok(
    st.echoes === 1 || st.echoes === 2,
    "the bound port saw only the bind event and the guest's one send",
  );
});

test("destroying a guest closes its channels and dom0 ends its mappings", async () => {
  const { m, g, done } = await boot(1);
  await done;
  const mapped = nextReport(m, (_d, x) => x.t === "mapped");
  m.post(g, { t: "grant", pages: 5 });
  const st0 = (await mapped).st as number[];
  assert.equal(st0.length, 5);
  assert.ok(st0.every((h) => h >= 0));
  assert.equal((await backStatus(m)).liveMappings, 5);
  await m.destroyDomain(g);
  assert.equal(m.channels(g), 0);
  const st = await backStatus(m);
  assert.deepEqual(st.destroyed, [g]);
  assert.equal(st.liveMappings, 0);
  assert.deepEqual(st.closed, [1]);
  assert.ok(!m.domids.includes(g));
  assert.ok(MACHINE < 0);
});
