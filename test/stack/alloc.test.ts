/**
 * The reply paths allocate nothing per packet: ICMP echo and UDP echo, received from one
 * reused buffer and answered through a device that takes the frame without copying.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeClock } from "../../src/base/clock.js";
import { ManualTimers } from "../../src/hv/timer.js";
import type { NetDevice } from "../../src/stack/device.js";
import { NetStack } from "../../src/stack/iface.js";
import { countGcs } from "../wire/net/fixtures.js";
import { arpRequestFrom, echoRequestFrame, IP_C, MAC_C, udpFrame } from "./frames.js";
import { IP_B, MAC_B } from "./harness.js";

function stackUnderTest() {
  let sent = 0;
  const dev: NetDevice = {
    mac: MAC_B,
    mtu: 1500,
    offloadsChecksum: false,
    transmit: (frame, len) => {
      sent += frame[len - 1] & 1; // touch the frame, keep nothing
      return true;
    },
  };
  const s = new NetStack(dev, { ip: IP_B, clock: new FakeClock(), timers: new ManualTimers() });
  s.up();
  s.startUdpEcho();
  const arp = arpRequestFrom(MAC_C, IP_C, IP_B); // B learns C, so UDP echo needs no ARP
  s.receive(arp, 0, arp.length, 0);
  return { s, sent: () => sent };
}

/** `frame` placed at an odd offset of a larger buffer, as a driver's page would hold it. */
function inPage(frame: Uint8Array): Uint8Array {
  const page = new Uint8Array(4096);
  page.set(frame, 101);
  return page;
}

const N = 200_000;

test("ICMP and UDP echo allocate nothing per packet", async () => {
  const { s } = stackUnderTest();
  const echo = inPage(echoRequestFrame(new Uint8Array(56)));
  const udp = inPage(udpFrame(5555, 7, new Uint8Array(64)));
  const echoLen = echoRequestFrame(new Uint8Array(56)).length;
  const udpLen = udpFrame(5555, 7, new Uint8Array(64)).length;
  const gcs = await countGcs(() => {
    s.receive(echo, 101, echoLen, 0);
    s.receive(udp, 101, udpLen, 0);
  }, N);
  // countGcs warms up with 100 000 rounds first.
  assert.equal(s.counters.get("icmpEchoRequests"), 100_000 + N);
  assert.equal(s.counters.get("udpDatagramsSent"), 100_000 + N);
  assert.equal(s.counters.get("txFrames"), 1 + 2 * (100_000 + N) + 1); // gratuitous ARP, echoes, ARP reply
  // Control: the same loop copying each frame out as a careless driver would.
  const control = await countGcs(() => {
    const copy = echo.slice(101, 101 + echoLen);
    s.receive(copy, 0, echoLen, 0);
  }, N);
  assert.ok(control >= 2, `the control loop should collect garbage (saw ${control})`);
  assert.ok(gcs <= 1, `${2 * N} echoes caused ${gcs} garbage collections (control: ${control})`);
});
