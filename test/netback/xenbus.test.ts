import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NETBACK_FEATURES } from "../../src/netback/xenbus.js";
import { dev, NF_GUEST, type Report, Rig, RUDE_FRONT } from "./xb-harness.js";

/**
 * Every feature key netback may write, with what exercises it: a key written that is not
 * here is advertised without being implemented (issue 17, defect 5).
 */
const IMPLEMENTED: Record<string, string> = {
  "feature-sg": "multi-slot TX and RX frames (vif.test.ts, e2e)",
  "feature-gso-tcpv4": "GSO segmentation (gso-segment.test.ts, vif.test.ts)",
  "feature-gso-tcpv6": "GSO segmentation (gso-segment.test.ts)",
  "feature-ipv6-csum-offload": "checksum completion (csum in vif.test.ts)",
  "feature-rx-copy": "RX by grant copy (request-rx-copy=1)",
  "feature-rx-flip": "RX by page transfer (request-rx-copy=0; rx-flip.test.ts)",
  "feature-split-event-channels": "split channels: this handshake binds two ports",
  "feature-ctrl-ring": "the control ring (ctrl.test.ts; ctrl-ring-ref read at connect, below)",
  "feature-multicast-control": "RX multicast filtered by the list (vif.test.ts, netfront mcast tests)",
  "feature-dynamic-multicast-control": "request-multicast-control watched while connected (vif.test.ts)",
  "feature-xdp-headroom": "RX data from byte xdp-headroom on, XDP extra (xdp-headroom.test.ts)",
};

/** Consecutive duplicates removed: a transaction retried on EAGAIN writes its state twice. */
function states(log: string[], dir: string): string[] {
  const out: string[] = [];
  for (const l of log) {
    if (!l.startsWith(`${dir}/state=`)) continue;
    const v = l.slice(dir.length + 7);
    if (out[out.length - 1] !== v) out.push(v);
  }
  return out;
}

test("handshake: the whole tree and its permissions after connect, and the order of state writes", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 300 });
  try {
    const { id, r } = await rig.guest({ ringPageOrder: 0, splitEventChannels: true });
    assert.equal(r.status.state, 4);
    const fe = `/local/domain/${id}/device/vif/0`;
    const be = `/local/domain/0/backend/vif/${id}/0`;
    const s = await rig.until("backend Connected", (x) => dev(x, id)?.state === 4);
    // Connected only once hotplug ran; the frontend never writes 3.
    assert.deepEqual(states(s.stateLog, be), ["1", "2", "4"]);
    assert.deepEqual(states(s.stateLog, fe), ["1", "4"]);
    const hp = s.stateLog.findIndex((l: string) => l === `${be}/state=4`);
    assert.ok(hp > s.stateLog.indexOf(`${fe}/state=4`), "backend Connected after the frontend's");
    assert.ok(hp > s.stateLog.indexOf(`${be}/hotplug-status=connected`), "and only after hotplug");
    assert.ok(
      s.stateLog.indexOf(`${be}/hotplug-status=connected`) > s.stateLog.indexOf(`${fe}/state=4`),
      "hotplug ran late",
    );
    const { lines } = await rig.ask(0, { t: "dump", paths: [fe, be] }, "dump");
    const advertised = lines
      .filter((l: string) => l.startsWith(`${be}/feature-`))
      .map((l: string) => l.slice(be.length + 1).split(" ")[0]);
    assert.deepEqual(
      advertised.sort(),
      Object.keys(IMPLEMENTED).sort(),
      "every advertised feature is implemented",
    );
    assert.deepEqual(NETBACK_FEATURES.map(([k]) => k).sort(), Object.keys(IMPLEMENTED).sort());
    assert.notEqual(r.queues[0].txPort, r.queues[0].rxPort, "split channels exercised");
    const q = s.queueCalls[0];
    const want = (dir: string, kv: [string, string][], perms: string) =>
      kv.map(([k, v]) => `${dir}/${k} = "${v}" (${perms})`);
    const fePerms = `n${id},r0`;
    const bePerms = `n0,r${id}`;
    const expected = [
      `${fe} = "" (${fePerms})`,
      ...want(
        fe,
        [
          ["backend", be],
          ["backend-id", "0"],
          // netfront stages its pools (the default) over a control ring when offered one.
          ["ctrl-ring-ref", lines.find((l: string) => l.startsWith(`${fe}/ctrl-ring-ref =`))?.split('"')[1]],
          [
            "event-channel-ctrl",
            lines.find((l: string) => l.startsWith(`${fe}/event-channel-ctrl =`))?.split('"')[1],
          ],
          ["event-channel-rx", String(r.queues[0].rxPort)],
          ["event-channel-tx", String(r.queues[0].txPort)],
          ["feature-gso-tcpv4", "1"],
          ["feature-gso-tcpv6", "1"],
          ["feature-ipv6-csum-offload", "1"],
          ["feature-rx-notify", "1"],
          ["feature-sg", "1"],
          ["handle", "0"],
          ["mac", "00:16:3e:00:00:01"],
        ],
        fePerms,
      ),
      `${fe}/mtu = "1500" (${bePerms})`,
      ...want(
        fe,
        [
          ["multi-queue-num-queues", "1"],
          ["request-rx-copy", "1"],
          ["rx-ring-ref", lines.find((l: string) => l.startsWith(`${fe}/rx-ring-ref =`))?.split('"')[1]],
          ["state", "4"],
          ["trusted", "1"],
          ["tx-ring-ref", lines.find((l: string) => l.startsWith(`${fe}/tx-ring-ref =`))?.split('"')[1]],
        ],
        fePerms,
      ),
      `${be} = "" (${bePerms})`,
      ...want(
        be,
        [
          ["bridge", "vale0"],
          ["feature-ctrl-ring", "1"],
          ["feature-dynamic-multicast-control", "1"],
          ["feature-gso-tcpv4", "1"],
          ["feature-gso-tcpv6", "1"],
          ["feature-ipv6-csum-offload", "1"],
          ["feature-multicast-control", "1"],
          ["feature-rx-copy", "1"],
          ["feature-rx-flip", "1"],
          ["feature-sg", "1"],
          ["feature-split-event-channels", "1"],
          ["feature-xdp-headroom", "1"],
          ["frontend", fe],
          ["frontend-id", String(id)],
          ["handle", "0"],
          ["hotplug-status", "connected"],
          ["mac", "00:16:3e:00:00:01"],
          ["max-ring-page-order", "4"],
          ["multi-queue-max-queues", "8"],
          ["online", "1"],
          ["script", "/etc/xen/scripts/vif-bridge"],
          ["state", "4"],
          ["type", "vif"],
        ],
        bePerms,
      ),
    ];
    assert.deepEqual(lines, expected);
    assert.match(String(lines.find((l: string) => l.startsWith(`${fe}/tx-ring-ref =`))), /= "\d+"/);
    // What each half was handed.
    assert.deepEqual(r.calls, ["make 00:16:3e:00:00:01 1500", "attach q0", "start q0"]);
    const g = await rig.guestUntil(id, "carrier on", (x) => x.calls.includes("carrierOn"));
    assert.deepEqual(g.calls, ["make 00:16:3e:00:00:01 1500", "attach q0", "start q0", "carrierOn"]);
    assert.equal(g.status.backendState, 4);
    assert.equal(q.txEnts, 256);
    assert.equal(q.rxEnts, 256);
    assert.notEqual(q.txPort, q.rxPort);
    assert.deepEqual(q.features, {
      sg: true,
      gsoTcpv4: true,
      gsoTcpv6: true,
      csumOffload: true,
      ipv6CsumOffload: true,
      rxNotify: true,
      multicastControl: false,
      xdpHeadroom: 0,
      rxFlip: false,
    });
    assert.equal(s.maps, 3, "one TX and one RX ring page mapped, and the control ring");
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

/** Nothing of guest `id`'s connection is held: no ring mappings, no grants, no channels. */
async function assertReleased(rig: Rig, id: number, dom0Channels: number, guestAlive = true): Promise<void> {
  const s = await rig.until("mappings released", (x) => x.maps === 0 && x.liveQueues === 0);
  assert.equal(s.maps, 0);
  assert.equal(rig.m.channels(0), dom0Channels, "Domain-0 holds no ring channel");
  if (!guestAlive) return;
  const g = await rig.guestUntil(id, "ring grants ended", (x) => x.liveGrants === 1);
  assert.equal(g.liveGrants, 1, "only the xenstore page stays granted");
  assert.equal(g.status.deferredGrants, 0);
  assert.equal(rig.m.channels(id), 1, "only the xenstore channel stays");
}

async function connected(rig: Rig, args: object = {}): Promise<{ id: number; r: Report; ch0: number }> {
  const id = await rig.m.createDomain({ name: `g${Math.random()}`, pages: 256, program: NF_GUEST, args });
  const ch0 = rig.m.channels(0);
  await rig.ask(0, { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:02" }, "added");
  const r = await rig.ask(id, { t: "probe", devid: 0 }, "connected");
  await rig.until("backend Connected", (x) => dev(x, id)?.state === 4);
  await rig.guestUntil(id, "carrier on", (x) => x.calls.includes("carrierOn"));
  return { id, r, ch0 };
}

test("teardown from the frontend: Closing, Closed on both ends, nothing left mapped, granted or bound", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 5 });
  try {
    const { id, ch0 } = await connected(rig, { queues: 2, ringPageOrder: 2, splitEventChannels: true });
    const c = await rig.ask(id, { t: "close" }, "closed");
    assert.equal(c.status.state, 6);
    assert.ok(c.calls.includes("carrierOff"));
    const s = await rig.until("backend Closed", (x) => dev(x, id)?.state === 6);
    const be = `/local/domain/0/backend/vif/${id}/0`;
    assert.deepEqual(states(s.stateLog, be), ["1", "2", "4", "5", "6"]);
    assert.deepEqual(states(s.stateLog, `/local/domain/${id}/device/vif/0`), ["1", "4", "5", "6"]);
    assert.deepEqual(
      s.calls.filter((l: string) => l.includes(`vif${id}.0`)),
      [
        `open vif${id}.0 00:16:3e:00:00:02`,
        `attach vif${id}.0 q0`,
        `attach vif${id}.0 q1`,
        `close vif${id}.0 q0`,
        `close vif${id}.0 q1`,
      ],
      "online=1: the vif stays registered",
    );
    await assertReleased(rig, id, ch0);
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("teardown from the backend (online=0 + Closing): the frontend closes, the vif is unregistered", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 5 });
  try {
    const { id, ch0 } = await connected(rig, { queues: 1, ringPageOrder: 1 });
    const rm = await rig.ask(0, { t: "remove", fe: id, devid: 0 }, "removed");
    assert.equal(rm.closed, true, "the backend reached Closed before the toolstack removed it");
    const g = await rig.guestUntil(id, "frontend Closed", (x) => x.status.state === 6);
    assert.ok(g.calls.includes("carrierOff") && g.calls.includes("close q0"));
    assert.equal(g.status.error, undefined, "no failure on the way down");
    const s = await rig.until("vif closed", (x) => x.calls.includes(`vif-close vif${id}.0`));
    assert.ok(s.calls.indexOf(`close vif${id}.0 q0`) < s.calls.indexOf(`vif-close vif${id}.0`));
    await assertReleased(rig, id, ch0);
    await rig.until("device forgotten", (x) => dev(x, id) === undefined);
    // The backend dir vanishing (EACCES to the guest) is no failure of the closed frontend.
    await new Promise((r) => setTimeout(r, 100));
    const after = await rig.ask(id, { t: "stats" }, "stats");
    assert.equal(after.status.state, 6);
    assert.equal(after.status.error, undefined);
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("guest death releases everything once: no double unmap, no channel left", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 5 });
  try {
    const { id, ch0 } = await connected(rig, { queues: 4, ringPageOrder: 1, splitEventChannels: true });
    // Four queues of two two-page rings, and the control ring netfront sets up to steer them.
    assert.equal((await rig.dom0Stats()).maps, 4 * 2 * 2 + 1);
    await rig.m.destroyDomain(id);
    const s = await rig.until("vif closed", (x) => x.calls.includes(`vif-close vif${id}.0`));
    assert.equal(s.calls.filter((l: string) => l.startsWith("DOUBLE")).length, 0);
    assert.deepEqual(
      s.lines.filter((l: string) => l.includes("was not mapped")),
      [],
      "no double unmap",
    );
    assert.equal(s.calls.filter((l: string) => l.startsWith(`close vif${id}.0`)).length, 4);
    // xenstored's port for the dead guest is closed too (it was counted in ch0).
    await assertReleased(rig, id, ch0 - 1, false);
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("a datapath fatal disconnects that vif alone; the other guest's vif stays Connected", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 5 });
  try {
    const a = await connected(rig);
    const b = await connected(rig, { queues: 2 });
    await rig.ask(
      0,
      { t: "fatal", vif: `vif${a.id}.0`, reason: "tx: slot count 99 over the limit" },
      "fatal-sent",
    );
    // a's frontend sees its backend close, releases everything and reconnects afresh (back
    // through Initialising: netback walks Closing, Closed, InitWait); b never notices.
    const ga0 = await rig.guestUntil(
      a.id,
      "a's frontend reconnected",
      (x) => x.status.backendLost === 1 && x.status.state === 4,
    );
    assert.equal(ga0.status.resets, 0);
    const s = await rig.until("vif a Connected again", (x) => dev(x, a.id)?.state === 4);
    assert.equal(dev(s, b.id).state, 4);
    assert.equal(
      s.maps,
      2 * 2 + 1 + 2 + 1,
      "b's two queues and a's new one mapped, with their control rings, a's old one not",
    );
    assert.ok(
      s.lines.some((l: string) => l.includes("slot count 99")),
      "reason logged",
    );
    const err = await rig.ask(
      0,
      { t: "read", path: `/local/domain/0/error/backend/vif/${a.id}/0/error` },
      "value",
    );
    assert.equal(err.value, "22 tx: slot count 99 over the limit");
    const gb = await rig.ask(b.id, { t: "stats" }, "stats");
    assert.equal(gb.status.state, 4);
    assert.equal(gb.status.backendLost, 0);
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

const VALID: Record<string, string> = {
  "tx-ring-ref": "$0",
  "rx-ring-ref": "$1",
  "event-channel": "$port",
  "request-rx-copy": "1",
  "feature-rx-notify": "1",
};

/** A hostile frontend writes `keys` (over VALID) and goes Connected; returns the backend's answer. */
async function rude(
  rig: Rig,
  keys: Record<string, string | null>,
): Promise<{ state: number; error: string; s: Report }> {
  const id = await rig.m.createDomain({ name: `r${Math.random()}`, pages: 64, program: RUDE_FRONT });
  const ch0 = rig.m.channels(0);
  await rig.ask(0, { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:0c" }, "added");
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...VALID, ...keys })) if (v !== null) all[k] = v;
  const done = await rig.ask(id, { t: "go", devid: 0, keys: all, grants: 2, port: true }, "done");
  assert.equal(done.backendAt3, "2", "frontend state 3 is ignored");
  const s = await rig.until("backend settled", (x) => [4, 5].includes(dev(x, id)?.state));
  const { value } = await rig.ask(
    0,
    { t: "read", path: `/local/domain/0/error/backend/vif/${id}/0/error` },
    "value",
  );
  const state = dev(s, id).state;
  if (state === 5) {
    assert.equal(s.maps, 0, "nothing stays mapped");
    assert.equal(rig.m.channels(0), ch0, "no channel stays bound");
  }
  await rig.m.destroyDomain(id);
  await rig.until("rude guest's vif gone", (x) => x.calls.includes(`vif-close vif${id}.0`));
  return { state, error: value, s };
}

test("a frontend writing garbage keys gets the error node and Closing; valid keys connect", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1 });
  try {
    const ok = await rude(rig, {});
    assert.equal(ok.state, 4, `the hostile-frontend rig connects with valid keys (${ok.error})`);
    const noCtrl = await rude(rig, { "ctrl-ring-ref": "0" });
    assert.equal(noCtrl.state, 4, "ctrl-ring-ref 0 means no control ring, as in Linux");
    const cases: [Record<string, string | null>, RegExp][] = [
      [{ "tx-ring-ref": "12abc" }, /^22 .*tx-ring-ref: "12abc" is not a decimal number$/],
      [{ "tx-ring-ref": " 7" }, /^22 /],
      [{ "rx-ring-ref": "99999" }, /^22 mapping queue 0 rx ring gref 99999: status -\d+$/],
      [{ "event-channel": "0" }, /^22 .*port 0/],
      [{ "event-channel": "5000" }, /^34 .*event-channel: 5000 out of range/],
      [{ "event-channel": "4000" }, /^22 binding event channel 4000/],
      [{ "multi-queue-num-queues": "9" }, /^22 guest requested 9 queues/],
      [{ "multi-queue-num-queues": "0" }, /^22 guest requested 0 queues/],
      [{ "multi-queue-num-queues": "-1" }, /^22 /],
      [{ "ring-page-order": "5" }, /^34 .*ring-page-order: 5 out of range \(0\.\.4\)$/],
      [{ "ring-page-order": "1" }, /^2 reading .*tx-ring-ref0$/],
      [{ "request-rx-copy": null }, /^95 /],
      [{ "request-rx-copy": "2" }, /^95 /],
      [{ "feature-sg": "yes" }, /^22 .*feature-sg/],
      [{ "event-channel-tx": "$port" }, /^2 reading .*event-channel-rx$/],
      [{ "tx-ring-ref": "$1" }, /^22 grant ref \d+ named for two ring pages$/],
      [
        { "ctrl-ring-ref": "99999", "event-channel-ctrl": "$port" },
        /^22 mapping control ring gref 99999: status -\d+$/,
      ],
      [{ "ctrl-ring-ref": "$0" }, /^2 reading .*event-channel-ctrl$/],
      [{ "ctrl-ring-ref": "$0", "event-channel-ctrl": "0" }, /^22 reading .*event-channel-ctrl$/],
      [{ "ctrl-ring-ref": "$0", "event-channel-ctrl": "70000" }, /^22 reading .*event-channel-ctrl$/],
      [{ "ctrl-ring-ref": "4294967296" }, /^22 reading .*ctrl-ring-ref$/],
    ];
    for (const [keys, want] of cases) {
      const r = await rude(rig, keys);
      assert.equal(r.state, 5, `${JSON.stringify(keys)}: Closing`);
      assert.match(r.error, want, JSON.stringify(keys));
    }
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("property: random garbage in any frontend key never connects, never throws, never leaks", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1 });
  try {
    const key = fc.constantFrom(
      "tx-ring-ref",
      "rx-ring-ref",
      "event-channel",
      "request-rx-copy",
      "feature-rx-notify",
      "multi-queue-num-queues",
      "ring-page-order",
      "feature-gso-tcpv4",
      "feature-no-csum-offload",
      "ctrl-ring-ref",
    );
    const garbage = fc.oneof(
      fc.string({ maxLength: 12 }).filter((s) => !/^\d+$/.test(s)),
      fc.constantFrom("4294967296", "99999999999", "1e3", "0x10", "+1", "1 ", "١"),
    );
    await fc.assert(
      fc.asyncProperty(key, garbage, async (k, v) => {
        const r = await rude(rig, { [k]: v });
        assert.equal(r.state, 5, `${k}=${JSON.stringify(v)}: Closing`);
        assert.match(r.error, /^\d+ \S/);
      }),
      { numRuns: 12 },
    );
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});

test("devices written before the driver starts are probed from a listing", async () => {
  const rig = await Rig.boot({ hotplugDelayMs: 1, deferStart: true });
  try {
    const id = await rig.m.createDomain({ name: "early", pages: 256, program: NF_GUEST, args: {} });
    await rig.ask(0, { t: "add", fe: id, devid: 0, mac: "00:16:3e:00:00:0f" }, "added");
    const connectedP = rig.ask(id, { t: "probe", devid: 0 }, "connected");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(dev(await rig.dom0Stats(), id), undefined, "no driver yet");
    await rig.ask(0, { t: "start" }, "started");
    const r = await connectedP;
    assert.equal(r.status.state, 4);
    await rig.until("backend Connected", (x) => dev(x, id)?.state === 4);
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});
