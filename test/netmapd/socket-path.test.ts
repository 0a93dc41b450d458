import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { test } from "node:test";
import { defaultNetmapdSocket } from "../../src/netmapd/socket-path.js";

test("netmapd's default socket: the variables first, then /run/pvnet for root, XDG_RUNTIME_DIR for a user", () => {
  const xdg = { XDG_RUNTIME_DIR: "/run/user/1000" };
  assert.equal(
    defaultNetmapdSocket({ PVNET_NETMAPD_SOCKET: "/a.sock", PVNET_RUNDIR: "/r", ...xdg }, 1000),
    "/a.sock",
  );
  assert.equal(defaultNetmapdSocket({ PVNET_RUNDIR: "/r", ...xdg }, 1000), "/r/netmapd.sock");
  assert.equal(defaultNetmapdSocket(xdg, 0), "/run/pvnet/netmapd.sock");
  assert.equal(defaultNetmapdSocket(xdg, 1000), "/run/user/1000/pvnet/netmapd.sock");
  assert.equal(defaultNetmapdSocket({}, 1000), `${tmpdir()}/pvnet-1000/netmapd.sock`);
  assert.equal(
    defaultNetmapdSocket({ PVNET_NETMAPD_SOCKET: "", XDG_RUNTIME_DIR: "" }, 1000),
    `${tmpdir()}/pvnet-1000/netmapd.sock`,
  );
});
