import assert from "node:assert/strict";
import { test } from "node:test";
import { udpFrame } from "./frames.js";
import { Harness } from "./harness.js";

test("netfront's TX and RX handlers call an event with no response spurious, and one with responses work", () => {
  const h = new Harness({ split: true });
  const [tx, rx] = [1, 2];
  let got = 0;
  h.dev.onReceive(() => {
    got++;
  });
  assert.equal(h.fire(tx), false, "TX event, nothing answered");
  assert.equal(h.fire(rx), false, "RX event, nothing published");
  const f = udpFrame(200, 0x0a000001, 0x0a000002, 1000, 2000);
  assert.ok(h.dev.transmit(f, f.length, 0));
  h.runDeferred();
  // The backend answers the request and echoes the frame into a posted RX buffer.
  h.echo[0].step();
  assert.equal(h.fire(rx), true);
  assert.equal(got, 1);
  assert.equal(h.fire(tx), true, "a TX response was reaped");
  assert.equal(h.fire(rx), false);
  assert.equal(h.fire(tx), false);
  assert.deepEqual(h.fatals, []);
});
