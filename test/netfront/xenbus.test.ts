import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { dev, NF_GUEST, type Report, Rig } from "../netback/xb-harness.js";

interface Want {
  order: number;
  queues: number;
  split: boolean;
}

/** Boots a guest asking for `w`, connects it, checks both ends against `got`, closes it. */
async function roundTrip(rig: Rig, w: Want, got: Want): Promise<void> {
  const id = await rig.m.createDomain({
    name: `g${Math.random()}`,
    pages: 256,
    program: NF_GUEST,
    args: { queues: w.queues, ringPageOrder: w.order, splitEventChannels: w.split },
  });
  const ch0 = rig.m.channels(0);
  await rig.ask(0, { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:0a" }, "added");
  const r: Report = await rig.ask(id, { t: "probe", devid: 0 }, "connected");
  const s = await rig.until("backend Connected", (x) => dev(x, id)?.state === 4);
  const fe = `/local/domain/${id}/device/vif/0`;
  const { lines } = await rig.ask(0, { t: "dump", paths: [fe] }, "dump");
  const keys = lines.map((l: string) => l.slice(fe.length + 1).split(" = ")[0]);
  const ents = 256 << got.order;
  // The frontend's view.
  assert.equal(r.status.queues, got.queues);
  assert.equal(r.status.ringPageOrder, got.order);
  assert.equal(r.status.splitEventChannels, got.split);
  assert.equal(r.queues.length, got.queues);
  for (const q of r.queues) {
    assert.equal(q.txEnts, ents);
    assert.equal(q.rxEnts, ents);
    assert.equal(q.txPort !== q.rxPort, got.split);
  }
  // The keys, as blkif spells multi-page rings and netif spells queues.
  const qdirs = got.queues === 1 ? [""] : Array.from({ length: got.queues }, (_, i) => `queue-${i}/`);
  // Written whenever the backend offers multi-queue (Linux's talk_to_netback), even for one.
  assert.ok(lines.includes(`${fe}/multi-queue-num-queues = "${got.queues}" (n${id},r0)`));
  assert.equal(keys.includes("ring-page-order"), got.order > 0);
  for (const qd of qdirs) {
    if (got.order === 0) {
      assert.ok(keys.includes(`${qd}tx-ring-ref`) && keys.includes(`${qd}rx-ring-ref`), `${qd}tx-ring-ref`);
    } else {
      for (let i = 0; i < 1 << got.order; i++)
        assert.ok(
          keys.includes(`${qd}tx-ring-ref${i}`) && keys.includes(`${qd}rx-ring-ref${i}`),
          `${qd}ring-ref${i}`,
        );
      assert.ok(!keys.includes(`${qd}tx-ring-ref`));
    }
    assert.equal(keys.includes(`${qd}event-channel-tx`), got.split);
    assert.equal(keys.includes(`${qd}event-channel`), !got.split);
  }
  if (got.queues > 1) assert.ok(!keys.includes("tx-ring-ref") && !keys.includes("event-channel"));
  // The backend's view.
  const d = dev(s, id);
  assert.equal(d.queues, got.queues);
  assert.equal(d.ringPageOrder, got.order);
  assert.equal(d.splitEventChannels, got.split);
  const qc = s.queueCalls.filter((q: Report) => q.vif === `vif${id}.0`);
  assert.deepEqual(
    qc.map((q: Report) => [q.queue, q.txEnts, q.rxEnts, q.txPort !== q.rxPort]),
    Array.from({ length: got.queues }, (_, i) => [i, ents, ents, got.split]),
  );
  // netfront sets up the control ring whenever the backend offers one (to stage its pools,
  // the default; this backend stages none), and with several queues programs steering.
  assert.equal(s.maps, got.queues * 2 * (1 << got.order) + 1);
  const g0 = await rig.guestUntil(id, "control ring programmed", (x) => x.status.ctrl !== undefined);
  assert.deepEqual(g0.status.ctrl, { steering: got.queues > 1, stagedGrants: 0 });
  // And back down to nothing.
  await rig.ask(id, { t: "close" }, "closed");
  await rig.until("released", (x) => x.maps === 0 && x.liveQueues === 0);
  const g = await rig.guestUntil(id, "grants ended", (x) => x.liveGrants === 1);
  assert.equal(g.status.deferredGrants, 0);
  assert.equal(rig.m.channels(id), 1);
  assert.equal(rig.m.channels(0), ch0);
  await rig.m.destroyDomain(id);
}

test("ring orders 0 to 4, one and split channels, 1, 2 and 4 queues", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1 });
  try {
    for (const order of [0, 1, 2, 3, 4])
      await roundTrip(
        rig,
        { order, queues: 1, split: order % 2 === 0 },
        { order, queues: 1, split: order % 2 === 0 },
      );
    for (const queues of [2, 4])
      await roundTrip(
        rig,
        { order: 1, queues, split: queues === 2 },
        { order: 1, queues, split: queues === 2 },
      );
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("one page and fewer queues when the backend advertises less", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1, maxRingPageOrder: 0, maxQueues: 2 });
  try {
    await roundTrip(rig, { order: 3, queues: 4, split: true }, { order: 0, queues: 2, split: true });
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("a backend violation resets the vif: torn down, back to Initialising, connected again", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1 });
  try {
    const id = await rig.m.createDomain({
      name: "g",
      pages: 256,
      program: NF_GUEST,
      args: { ringPageOrder: 1 },
    });
    await rig.ask(0, { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:0b" }, "added");
    await rig.ask(id, { t: "probe", devid: 0 }, "connected");
    await rig.guestUntil(id, "carrier", (x) => x.calls.includes("carrierOn"));
    await rig.ask(id, { t: "fatal", reason: "rx: response id 999 out of range" }, "fatal-sent");
    const g = await rig.guestUntil(
      id,
      "reconnected",
      (x) =>
        x.status.resets === 1 &&
        x.status.state === 4 &&
        x.calls.filter((c: string) => c === "carrierOn").length === 2,
    );
    assert.deepEqual(g.calls, [
      "make 00:16:3e:00:00:0b 1500",
      "attach q0",
      "start q0",
      "carrierOn",
      "carrierOff",
      "close q0",
      "attach q0",
      "start q0",
      "carrierOn",
    ]);
    assert.equal(g.status.error, undefined, "cleared by the new connection");
    assert.ok(g.lines.some((l: string) => l.includes("response id 999")));
    const s = await rig.until("backend Connected again", (x) => dev(x, id)?.state === 4 && x.maps === 4 + 1);
    const be = `/local/domain/0/backend/vif/${id}/0`;
    const seq = s.stateLog
      .filter((l: string) => l.startsWith(`${be}/state=`))
      .map((l: string) => l.slice(-1));
    assert.deepEqual(seq.slice(-4), ["5", "6", "2", "4"], "Closing, Closed, InitWait, Connected");
    // The old ring grants ended once the backend let go of them.
    const g2 = await rig.guestUntil(id, "old grants ended", (x) => x.status.deferredGrants === 0);
    // The xenstore page, two two-page rings, the control ring and its table page.
    assert.equal(g2.liveGrants, 1 + 4 + 2);
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("property: random order, queues and channel kinds connect, agree on both ends and release everything", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1 });
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.boolean(),
        async (order, queues, split) => {
          await roundTrip(rig, { order, queues, split }, { order, queues, split });
        },
      ),
      { numRuns: 8 },
    );
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

/** A guest whose device the test's hand-played backend serves; returns its id and backend dir. */
async function handPlayed(
  rig: Rig,
  args: object,
  beKeys: Record<string, string>,
): Promise<{ id: number; be: string }> {
  const id = await rig.m.createDomain({ name: `h${Math.random()}`, pages: 1024, program: NF_GUEST, args });
  await rig.ask(0, { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:0d" }, "added");
  const be = `/local/domain/0/backend/vif/${id}/0`;
  for (const [k, v] of Object.entries({ ...beKeys, state: "2" }))
    await rig.ask(0, { t: "write", path: `${be}/${k}`, value: v }, "written");
  return { id, be };
}

test("the backend's feature keys are bounded and parsed strictly by the frontend", async () => {
  const rig = await Rig.boot({ noNetback: true });
  try {
    const { id, be } = await handPlayed(
      rig,
      { ringPageOrder: 4, queues: 8 },
      {
        "feature-rx-copy": "1",
        "max-ring-page-order": "99",
        "multi-queue-max-queues": "4294967295",
        "feature-split-event-channels": "1x",
        "feature-sg": "0",
      },
    );
    const r = await rig.ask(id, { t: "probe", devid: 0 }, "connected");
    assert.equal(r.status.ringPageOrder, 4, "order bounded at 4");
    assert.equal(r.status.queues, 8, "queues bounded at 8");
    assert.equal(r.status.splitEventChannels, false, "garbage is not a yes");
    assert.equal(r.queues[0].features.sg, false);
    assert.equal(r.queues[0].txEnts, 4096);
    // The backend closes: everything comes back (nothing was mapped), and the frontend
    // waits in Initialising for a backend.
    await rig.ask(0, { t: "write", path: `${be}/state`, value: "5" }, "written");
    const g = await rig.guestUntil(id, "frontend Initialising", (x) => x.status.state === 1);
    assert.equal(g.status.backendLost, 1);
    assert.equal(g.liveGrants, 1);
    assert.equal(g.status.deferredGrants, 0);
    assert.equal(rig.m.channels(id), 1);
    // A backend at InitWait again, offering less now: the frontend re-reads the features.
    await rig.ask(0, { t: "write", path: `${be}/multi-queue-max-queues`, value: "2" }, "written");
    await rig.ask(0, { t: "write", path: `${be}/max-ring-page-order`, value: "1" }, "written");
    await rig.ask(0, { t: "write", path: `${be}/state`, value: "2" }, "written");
    const again = await rig.guestUntil(id, "frontend Connected again", (x) => x.status.state === 4);
    assert.equal(again.status.queues, 2);
    assert.equal(again.status.ringPageOrder, 1);
    assert.equal(again.liveGrants, 1 + 2 * 2 * 2, "two queues of two 2-page rings granted");
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("property: a backend that closes, goes away or comes back afresh in any order is waited for; the frontend reconnects to the new one with its features and releases the old connection", async () => {
  const rig = await Rig.boot({ noNetback: true });
  const features = { "feature-rx-copy": "1", "feature-split-event-channels": "1" };
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("5", "6", "rm", "fresh"), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 4 }),
        async (ops, maxQueues) => {
          const { id, be } = await handPlayed(rig, { queues: 4 }, features);
          await rig.ask(id, { t: "probe", devid: 0 }, "connected");
          for (const op of ops) {
            if (op === "rm") await rig.ask(0, { t: "rm", path: be }, "removed");
            else if (op === "fresh")
              // A new driver domain's directory: the toolstack's keys, state Initialising.
              await rig.ask(
                0,
                { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:0d", backendOnly: true },
                "added",
              );
            else await rig.ask(0, { t: "write", path: `${be}/state`, value: op }, "written");
          }
          const lost = await rig.guestUntil(id, "waiting in Initialising", (x) => x.status.state === 1);
          assert.equal(lost.status.backendLost, 1, "one loss, however many events told of it");
          assert.equal(lost.liveGrants, 1, "the old connection's grants all ended");
          assert.equal(rig.m.channels(id), 1, "and its channels closed");
          // The new backend: fresh directory, its own features, InitWait.
          await rig.ask(
            0,
            { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:0d", backendOnly: true },
            "added",
          );
          for (const [k, v] of Object.entries({
            ...features,
            "multi-queue-max-queues": String(maxQueues),
            state: "2",
          }))
            await rig.ask(0, { t: "write", path: `${be}/${k}`, value: v }, "written");
          const back = await rig.guestUntil(id, "Connected again", (x) => x.status.state === 4);
          assert.equal(back.status.queues, maxQueues, "features read again");
          assert.equal(back.liveGrants, 1 + 2 * maxQueues);
          assert.equal(rig.m.channels(id), 1 + 2 * maxQueues);
          await rig.m.destroyDomain(id);
        },
      ),
      { numRuns: 8 },
    );
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("the toolstack's trusted=0 reaches the device: netfront reads its frontend dir's key at probe", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1 });
  try {
    for (const trusted of [false, true]) {
      const id = await rig.m.createDomain({ name: `t${String(trusted)}`, pages: 256, program: NF_GUEST });
      await rig.ask(0, { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:0e", trusted }, "added");
      const r: Report = await rig.ask(id, { t: "probe", devid: 0 }, "connected");
      assert.equal(r.status.trusted, trusted);
      assert.equal(r.calls[0], `make 00:16:3e:00:00:0e 1500${trusted ? "" : " untrusted"}`);
      await rig.ask(id, { t: "close" }, "closed");
      await rig.m.destroyDomain(id);
    }
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("a backend without feature-rx-copy: the probe fails with the error node and Closing", async () => {
  const rig = await Rig.boot({ noNetback: true });
  try {
    const { id } = await handPlayed(rig, {}, { "max-ring-page-order": "2" });
    const e = await rig.ask(id, { t: "probe", devid: 0 }, "error");
    assert.match(e.message, /backend does not support copying receive path/);
    const v = await rig.ask(0, { t: "read", path: `/local/domain/${id}/error/device/vif/0/error` }, "value");
    assert.equal(v.value, "95 backend does not support copying receive path");
    const st = await rig.ask(0, { t: "read", path: `/local/domain/${id}/device/vif/0/state` }, "value");
    assert.equal(st.value, "5");
    const g = await rig.ask(id, { t: "stats" }, "stats");
    assert.equal(g.liveGrants, 1);
    assert.equal(rig.m.channels(id), 1);
  } finally {
    await rig.close();
  }
});

test("NetbackDriver.stop closes every device and releases everything", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1 });
  try {
    const a = await rig.guest({ queues: 2 });
    const b = await rig.guest({ ringPageOrder: 2 }, 0, "00:16:3e:00:00:0e");
    await rig.until("both Connected", (x) => dev(x, a.id)?.state === 4 && dev(x, b.id)?.state === 4);
    await rig.ask(0, { t: "stop" }, "stopped");
    const s = await rig.dom0Stats();
    assert.equal(s.maps, 0);
    assert.equal(s.liveQueues, 0);
    assert.ok(s.calls.includes(`vif-close vif${a.id}.0`) && s.calls.includes(`vif-close vif${b.id}.0`));
    for (const id of [a.id, b.id]) {
      const st = await rig.ask(0, { t: "read", path: `/local/domain/0/backend/vif/${id}/0/state` }, "value");
      assert.equal(st.value, "6");
      // The backend may come back (a restarted driver domain): the frontend waits for it.
      const g = await rig.guestUntil(
        id,
        "frontend Initialising, everything released",
        (x) => x.status.state === 1 && x.liveGrants === 1,
      );
      assert.ok(g.calls.includes("carrierOff"));
      assert.equal(g.status.backendLost, 1);
    }
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});
