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
