import assert from "node:assert/strict";
import { test } from "node:test";
import { dev, Rig } from "./harness.js";

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
  const rig = await Rig.boot({ hotplugDelayMs: 60 });
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
    const { lines } = await rig.ask(0, { t: "dump", paths: [fe, be] }, "dump");
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
          ["feature-rx-flip", "0"],
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
    });
    assert.equal(s.maps, 2, "one TX and one RX ring page mapped");
    assert.deepEqual(rig.errors, []);
  } finally {
    await rig.close();
  }
});
