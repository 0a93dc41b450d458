import assert from "node:assert/strict";
import { test } from "node:test";
import { parseWebAddr } from "../../src/web/addr.js";

test("--web takes ADDR:PORT, PORT, ADDR and [v6]:PORT", () => {
  assert.deepEqual(parseWebAddr("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseWebAddr("9000"), { host: "127.0.0.1", port: 9000 });
  assert.deepEqual(parseWebAddr("0.0.0.0"), { host: "0.0.0.0", port: 8080 });
  assert.deepEqual(parseWebAddr("[::1]:81"), { host: "::1", port: 81 });
  assert.match(parseWebAddr("1.2.3.4:70000") as string, /port must be 0-65535/);
  assert.match(parseWebAddr("a b:80") as string, /not a host name/);
});
