/**
 * VifFrames in Domain-0, through a host's hotplug module: a frame written reaches the
 * guest and its answer comes back to the listener; a frame too long for a slot is refused
 * and counted; a listener that throws closes the stream, not Domain-0.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
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

test("a vif as frames: written frames reach the guest, its answers reach the listener; a throwing listener closes only the stream", async () => {
  const r = parseHostConfig(YAML, "t.yaml");
  assert.ok(r.ok);
  const seen: Record<string, unknown>[] = [];
  let got: () => void = () => {};
  const all = new Promise<void>((res) => {
    got = res;
  });
  const host = await Host.boot(r.config, {
    socketPath: null,
    hotplug: new URL("./programs/frames-hotplug.js", import.meta.url),
  });
  host.machine.on("report", (_d: number, data: { t?: string; error?: unknown } | null) => {
    if (data?.t !== "frames") return;
    seen.push(data as Record<string, unknown>);
    if (data.error !== undefined) got();
  });
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      all,
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error(`only ${JSON.stringify(seen)}`)), 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
    const replied = seen.find((s) => s.replied === true);
    assert.ok(replied, JSON.stringify(seen));
    assert.equal(replied.name, "vif1.0");
    assert.ok((replied.written as number) >= 1);
    assert.deepEqual(replied.tooLong, { taken: false, refused: 1 }, "a frame longer than a slot is refused");
    assert.ok((replied.received as number) >= 1);
    const end = seen.find((s) => s.error !== undefined)!;
    assert.equal(end.error, "listener bug");
    assert.equal(end.writeAfterClose, false, "a closed stream takes nothing");
    assert.equal(host.status().domains.find((d) => d.domid === 0)?.state, "running");
  } finally {
    await host.shutdown();
  }
});
