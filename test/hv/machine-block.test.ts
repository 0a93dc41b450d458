import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Machine } from "../../src/hv/machine.js";

const program = new URL("./programs/evt-peer.js", import.meta.url);
const machines: Machine[] = [];
after(async () => {
  for (const m of machines) await m.shutdown();
});

function report(m: Machine, t: string, ms: number) {
  return new Promise<{ t: string; [k: string]: unknown }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${t}" report in ${ms} ms`)), ms);
    const h = (_d: number, data: { t: string }) => {
      if (data.t !== t) return;
      clearTimeout(timer);
      m.off("report", h);
      resolve(data);
    };
    m.on("report", h);
  });
}

test("a block-mode guest boots (hypercall answers ring its bell), ping-pongs events with Domain-0 and answers messages", async () => {
  const m = new Machine();
  machines.push(m);
  await m.createDomain({ name: "dom0", pages: 16, program, args: { role: "back" } });
  const done = report(m, "rounds-done", 60_000);
  const g = await m.createDomain({
    name: "guest",
    pages: 256,
    program,
    args: { role: "guest", rounds: 3000 },
    loopMode: "block",
  });
  assert.equal((await done).got, 3000);
  // Messages from the machine and from Domain-0 reach it while it sleeps in Atomics.wait:
  // each round is two messages to the guest, each of which would wait out a 50 ms sleep
  // (25 on average, 5 s in all) if the machine did not ring its bell.
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    const mapped = report(m, "mapped", 10_000);
    m.post(g, { t: "grant", pages: 1 });
    await mapped;
  }
  const ms = performance.now() - t0;
  assert.ok(ms < 2500, `100 message round trips took ${Math.round(ms)} ms`);
  const closed = report(m, "closed", 10_000);
  m.post(g, { t: "close" });
  await closed;
  await m.shutdownDomain(g, 5000);
});

test("Domain-0 cannot block: createDomain refuses loop mode block for the privileged domain, in one line", async () => {
  const m = new Machine();
  machines.push(m);
  await assert.rejects(
    m.createDomain({ name: "dom0", pages: 16, program, args: { role: "back" }, loopMode: "block" }),
    (e: Error & { code?: string }) =>
      e.code === "EINVAL" && /Domain-0 cannot use loop mode block/.test(e.message),
  );
});
