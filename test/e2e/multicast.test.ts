import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import type { McastRole } from "./programs/mcast-guest.js";

const G1 = 0xef010101; // 239.1.1.1
const G2 = 0xef020202; // 239.2.2.2
const FOR_MS = 3000;

const YAML = `
domains:
  - name: Domain-0
  - name: s
    vifs: [{ ip: 10.0.0.1/24 }]
  - name: b
    vifs: [{ ip: 10.0.0.2/24, features: { multicast-control: true } }]
  - name: c
    vifs: [{ ip: 10.0.0.3/24, features: { multicast-control: true } }]
  - name: d
    vifs: [{ ip: 10.0.0.4/24 }]
  - name: e
    vifs: [{ ip: 10.0.0.5/24, features: { multicast-control: true } }]
bridges:
  vale0: {}
`;

const ROLES: Record<number, Omit<McastRole, "groups" | "port" | "forMs">> = {
  0: { send: true, join: [] },
  1: { send: false, join: [G1] },
  2: { send: false, join: [] },
  3: { send: false, join: [G1] },
  4: { send: false, join: [], dropControl: true },
};

test("multicast end to end: guests that asked for control get only the groups their stacks joined; one that did not gets every group; the joined group is received; control switched off live takes effect", async () => {
  const r = parseHostConfig(YAML, "mcast.yaml");
  assert.ok(r.ok, JSON.stringify(r));
  const lines: string[] = [];
  const program = new URL("./programs/mcast-guest.js", import.meta.url);
  const host = await Host.boot(r.config, {
    socketPath: null,
    programs: { s: program, b: program, c: program, d: program, e: program },
    guestExtra: (i) => ({ ...ROLES[i], groups: [G1, G2], port: 5000, forMs: FOR_MS }),
    log: (l) => lines.push(l),
  });
  try {
    const reports = new Map<string, { udp: number; notForUs: number; groups: number[] }>();
    const t0 = Date.now();
    while (reports.size < 4 && Date.now() - t0 < FOR_MS + 60_000) {
      for (const l of lines.splice(0)) {
        const m = /\{"mcast".*\}$/.exec(l);
        if (m === null) continue;
        const o = JSON.parse(m[0]);
        reports.set(o.mcast, o);
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    const b = reports.get("b");
    const c = reports.get("c");
    const d = reports.get("d");
    assert.ok(b && c && d, `every receiver reported: ${[...reports.keys()]}`);
    assert.deepEqual(b.groups, [G1]);
    assert.ok(b.udp >= 20, `b (control, joined G1) received G1: ${b.udp}`);
    assert.equal(b.notForUs, 0, "b's vif passed nothing of G2");
    assert.equal(c.udp, 0, "c (control, joined nothing) received nothing");
    assert.equal(c.notForUs, 0, "c's vif passed no group");
    assert.ok(d.udp >= 20, `d (no control, joined G1) received G1: ${d.udp}`);
    assert.ok(d.notForUs >= 20, `d's vif passed G2 too, dropped by its stack: ${d.notForUs}`);
    const e = reports.get("e");
    assert.ok(e, "e reported");
    assert.ok(
      e.notForUs >= 10,
      `e turned control off while connected (netback watches the key): every group reached it: ${e.notForUs}`,
    );
  } finally {
    await host.shutdown();
  }
});
