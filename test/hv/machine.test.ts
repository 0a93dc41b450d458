import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Machine } from "../../src/hv/machine.js";

const program = new URL("./programs/evt-peer.js", import.meta.url);
const rude = new URL("./programs/rude-guest.js", import.meta.url);

/** The next report or message matching `pred`; rejects if a domain fails meanwhile. */
function nextReport(m: Machine, pred: (d: number, data: { t: string; [k: string]: unknown }) => boolean) {
  return new Promise<{ t: string; [k: string]: unknown }>((resolve, reject) => {
    const h = (d: number, data: { t: string }) => {
      if (pred(d, data)) {
        off();
        resolve(data);
      }
    };
    const failed = (d: number, e: { message: string }) => {
      off();
      reject(new Error(`domain ${d} failed: ${e.message}`));
    };
    const off = () => {
      m.off("report", h);
      m.off("message", h);
      m.off("domain-failed", failed);
    };
    m.on("report", h);
    m.on("message", h);
    m.on("domain-failed", failed);
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
});

/** dom0 and two evt-peer guests, each bound to dom0 and done with `rounds` round trips. */
async function bootTwo(rounds: number) {
  const m = new Machine();
  machines.push(m);
  await m.createDomain({ name: "dom0", pages: 16, program, args: { role: "back" } });
  const doneA = nextReport(m, (d, x) => d === 1 && x.t === "rounds-done");
  const a = await m.createDomain({ name: "a", pages: 64, program, args: { role: "guest", rounds } });
  await doneA;
  const doneB = nextReport(m, (d, x) => d === 2 && x.t === "rounds-done");
  const b = await m.createDomain({ name: "b", pages: 64, program, args: { role: "guest", rounds } });
  await doneB;
  return { m, a, b };
}

test("a pending bit guest A forges for dom0's port bound to guest B does not run B's handler", async () => {
  const { m, a, b } = await bootTwo(10);
  const before = await backStatus(m);
  const bound = before.bound as Record<string, number>;
  const portB = bound[String(b)];
  assert.ok(portB > 0 && portB !== bound[String(a)], "dom0 has a port for each guest");
  const echoesB = (before.echoesFrom as Record<string, number>)[String(b)];
  const forged = nextReport(m, (_d, x) => x.t === "forged-port");
  m.post(a, { t: "forge-port", port: portB });
  await forged;
  // Positive control: dom0 did look at the forged bit (counted it as spurious).
  let st = await backStatus(m);
  for (let i = 0; i < 40 && (st.spurious as number) < 1; i++) {
    await new Promise((r) => setTimeout(r, 50));
    st = await backStatus(m);
  }
  assert.ok((st.spurious as number) >= 1, `spurious ${st.spurious}`);
  assert.equal((st.echoesFrom as Record<string, number>)[String(b)], echoesB, "B's handler did not run");
});

test("a guest worker posting malformed, forged and huge messages: dropped and counted, nothing else changes", async () => {
  const lines: string[] = [];
  const m = new Machine({ log: (l) => lines.push(l) });
  machines.push(m);
  const failed: number[] = [];
  m.on("domain-failed", (d: number) => failed.push(d));
  await m.createDomain({ name: "dom0", pages: 16, program, args: { role: "back" } });
  const rudeId = await m.createDomain({ name: "rude", pages: 16, program: rude, args: { role: "rude" } });
  const listener = await m.createDomain({
    name: "listen",
    pages: 16,
    program: rude,
    args: { role: "listen" },
  });
  const got: number[] = [];
  m.on("report", (d: number, x: { t: string; from?: number }) => {
    if (d === listener && x.t === "got") got.push(x.from ?? -1);
  });
  // An honest guest keeps exchanging events with dom0 the whole time.
  const honestDone = nextReport(m, (_d, x) => x.t === "rounds-done");
  const honest = await m.createDomain({
    name: "honest",
    pages: 64,
    program,
    args: { role: "guest", rounds: 3000 },
  });
  const spewed = nextReport(m, (d, x) => d === rudeId && x.t === "spewed");
  m.post(rudeId, { t: "spew", other: listener });
  const r = await spewed;
  assert.equal((await honestDone).got, 3000, "the honest guest's round trips all completed");
  assert.ok((r.ownPort as number) > 0, "the rude guest's own hypercalls still work");
  const st = m.status();
  const rs = st.find((d) => d.domid === rudeId)!;
  assert.equal(rs.state, "running", "its status is not what it claimed");
  assert.equal(rs.error, undefined);
  assert.equal(rs.badMessages, r.refused);
  assert.deepEqual(failed, []);
  assert.deepEqual(got, [], "a guest cannot message another guest");
  for (const d of st) if (d.domid !== rudeId) assert.equal(d.badMessages, 0, d.name);
  assert.ok(st.every((d) => d.state === "running"));
  assert.ok(m.channels(honest) === 1);
  // Logged, rate-limited (five lines a second): fewer lines than dropped messages.
  assert.ok(lines.length >= 1 && lines.length < (r.refused as number), `${lines.length} log lines`);
  assert.match(lines[0], /domain \d+ \(rude\): dropped a message/);
});

test("dom0 handlers that throw or reject on a guest's messages are logged; dom0 keeps serving", async () => {
  const { m, g, done } = await boot(1);
  await done;
  const sent = nextReport(m, (_d, x) => x.t === "hostile-sent");
  m.post(g, { t: "hostile-msgs" });
  await sent;
  let st = await backStatus(m);
  for (let i = 0; i < 40 && (st.handlerErrors as number) < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
    st = await backStatus(m);
  }
  assert.equal(st.handlerErrors, 3, "one throw and two rejections");
  assert.ok((st.seen as number) >= 4, "the handler after the one that threw still got the message");
  assert.ok(m.status().every((d) => d.state === "running"));
  const g2done = nextReport(m, (_d, x) => x.t === "rounds-done");
  await m.createDomain({ name: "guest2", pages: 64, program, args: { role: "guest", rounds: 100 } });
  assert.equal((await g2done).got, 100, "dom0 still serves a new guest");
});

test("destroying a domain twice at once ends it once", async () => {
  const { m, g, done } = await boot(1);
  await done;
  const events: number[] = [];
  m.on("domain-destroyed", (d: number) => events.push(d));
  await Promise.all([m.destroyDomain(g), m.destroyDomain(g)]);
  assert.deepEqual(events, [g]);
  const st = await backStatus(m);
  assert.deepEqual(st.destroyed, [g]);
});

test("a shutdown hook that throws does not keep the domain from stopping cleanly", async () => {
  const m = new Machine();
  const failed: number[] = [];
  m.on("domain-failed", (d: number) => failed.push(d));
  await m.createDomain({ name: "dom0", pages: 16, program, args: { role: "back" } });
  const g = await m.createDomain({ name: "g", pages: 16, program: rude, args: { role: "bad-shutdown" } });
  const second = nextReport(m, (d, x) => d === g && x.t === "second-hook-ran");
  await m.shutdown(5000);
  await second;
  assert.deepEqual(failed, [], "no domain failed on the way down");
});

test("shutting one guest down runs its shutdown hooks, then releases it as a destroyed domain", async () => {
  const m = new Machine();
  machines.push(m);
  await m.createDomain({ name: "dom0", pages: 16, program, args: { role: "back" } });
  const g = await m.createDomain({ name: "g", pages: 16, program: rude, args: { role: "bad-shutdown" } });
  const events: number[] = [];
  m.on("domain-destroyed", (d: number) => events.push(d));
  const second = nextReport(m, (d, x) => d === g && x.t === "second-hook-ran");
  await Promise.all([m.shutdownDomain(g), m.shutdownDomain(g)]);
  await second;
  assert.deepEqual(events, [g], "released once");
  assert.ok(!m.domids.includes(g));
  assert.equal(m.channels(g), 0);
  const st = await backStatus(m);
  assert.deepEqual(st.destroyed, [g], "Domain-0 told, as of a destroyed domain");
  assert.throws(() => m.shutdownDomain(0), /Domain-0/);
});
