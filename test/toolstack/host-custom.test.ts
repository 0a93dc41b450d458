import assert from "node:assert/strict";
import { test } from "node:test";
import { PvnetError } from "../../src/base/errors.js";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";

const YAML = `
domains:
  - name: Domain-0
  - name: a
    vifs: [{ ip: 10.0.0.1/24, bridge: vale0 }]
bridges:
  vale0: {}
`;

test("a program named for a guest the host does not have is refused before anything boots", async () => {
  const r = parseHostConfig(YAML, "t.yaml");
  assert.ok(r.ok);
  await assert.rejects(
    Host.boot(r.config, { socketPath: null, programs: { b: new URL(import.meta.url) } }),
    (e) => {
      assert.ok(e instanceof PvnetError);
      assert.equal(e.code, "EINVAL");
      assert.match(e.message, /programs names "b", which is no guest of this host/);
      return true;
    },
  );
});

test("a hotplug module that throws fails boot with the vif's name; without the wait, hotplug-status stays at error", async () => {
  const r = parseHostConfig(YAML, "t.yaml");
  assert.ok(r.ok);
  const lines: string[] = [];
  await assert.rejects(
    Host.boot(r.config, {
      socketPath: null,
      hotplug: new URL("./programs/hotplug-throws.js", import.meta.url),
      log: (l) => lines.push(l),
    }),
    /vif1\.0: hotplug failed/,
  );
  assert.ok(
    lines.some((l) => /hotplug vif1\.0: no wire for this vif/.test(l)),
    lines.join("\n"),
  );
  const host = await Host.boot(r.config, {
    socketPath: null,
    hotplug: new URL("./programs/hotplug-throws.js", import.meta.url),
    connectTimeoutMs: 0,
  });
  try {
    const t0 = Date.now();
    while (host.status().vifs[0]?.hotplug === "pending" && Date.now() - t0 < 3000)
      await new Promise((res) => setTimeout(res, 20));
    const v = host.status().vifs[0]!;
    assert.equal(v.hotplug, "error");
    assert.notEqual(v.backend.stateName, "Connected", "netback waits for hotplug-status connected");
  } finally {
    await host.shutdown();
  }
});

test("a hotplug module whose default export is no function fails Domain-0's boot with that reason", async () => {
  const r = parseHostConfig(YAML, "t.yaml");
  assert.ok(r.ok);
  await assert.rejects(
    Host.boot(r.config, {
      socketPath: null,
      hotplug: new URL("./programs/hotplug-not-a-function.js", import.meta.url),
    }),
    /hotplug module .*hotplug-not-a-function\.js: its default export is not a function/,
  );
});
