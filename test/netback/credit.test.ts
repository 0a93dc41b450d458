import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseRate, TxCredit, UNLIMITED } from "../../src/netback/credit.js";

test("rate keys parse strictly, as Linux's xen_net_read_rate", () => {
  assert.deepEqual(parseRate("1000000,20000"), { bytes: 1000000, usec: 20000 });
  for (const bad of [
    "",
    "1000",
    "1000,",
    ",20",
    "1000,20,",
    " 1,2",
    "1,2 ",
    "-1,2",
    "1.5,2",
    "0x10,2",
    "99999999999999999999,1",
  ])
    assert.equal(parseRate(bad), undefined, JSON.stringify(bad));
});

test("unlimited never waits", () => {
  const c = new TxCredit(UNLIMITED, 0);
  for (let i = 0; i < 1000; i++) assert.equal(c.charge(65535, 0), -1);
});

test("a packet that does not fit waits for the window's end, then goes", () => {
  const c = new TxCredit({ bytes: 150000, usec: 10000 }, 1000);
  assert.equal(c.charge(100000, 1000), -1);
  assert.equal(c.charge(60000, 1001), 1010, "waits for the window to end");
  assert.ok(c.limited);
  assert.equal(c.charge(60000, 1005), 1010, "asking again changes nothing");
  c.onTimer();
  assert.equal(c.charge(60000, 1010), -1);
  assert.equal(c.remaining, 90000, "the new window brought the credit back to its cap, 150000");
});

test("credit is capped at max(128 KiB, bytes), so a 64 KiB frame always fits eventually", () => {
  const c = new TxCredit({ bytes: 1000, usec: 1000 }, 0);
  assert.equal(c.charge(65535, 0), 1);
  for (let t = 1; t < 200; t++) {
    c.onTimer();
    if (c.charge(65535, t) === -1) {
      assert.ok(t >= 65, `needed at least 65 windows of 1000 bytes, went after ${t}`);
      return;
    }
  }
  assert.fail("a 64 KiB frame never went");
});

test("over any run, bytes sent never exceed the rate's budget plus one burst", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1000, max: 200000 }),
      fc.integer({ min: 1000, max: 50000 }),
      fc.array(fc.integer({ min: 14, max: 65535 }), { minLength: 1, maxLength: 300 }),
      (bytes, usec, sizes) => {
        const windowMs = Math.floor(usec / 1000);
        let now = 0;
        const c = new TxCredit({ bytes, usec }, now);
        let sent = 0;
        for (const size of sizes) {
          for (let tries = 0; ; tries++) {
            assert.ok(tries <= Math.ceil(size / bytes) + 2, "a packet waits longer than its size needs");
            const at = c.charge(size, now);
            if (at === -1) break;
            assert.ok(at > now || at === now, "a retry is never in the past");
            now = Math.max(now, at);
            c.onTimer();
          }
          sent += size;
          const windows = Math.floor(now / windowMs) + 1;
          assert.ok(
            sent <= windows * bytes + Math.max(131072, bytes),
            `sent ${sent} in ${windows} windows of ${bytes}`,
          );
        }
      },
    ),
  );
});

test("a lowered rate cuts leftover credit unless a timer is pending", () => {
  const c = new TxCredit({ bytes: 100000, usec: 10000 }, 0);
  c.setRate({ bytes: 1000, usec: 10000 });
  assert.equal(c.remaining, 1000);
  const d = new TxCredit({ bytes: 100000, usec: 10000 }, 0);
  d.charge(90000, 0);
  d.charge(20000, 0);
  d.setRate({ bytes: 1000, usec: 10000 });
  assert.equal(d.remaining, 10000);
});

test("at the very end of a window the next window's credit is there without a timer", () => {
  const c = new TxCredit({ bytes: 1000, usec: 10000 }, 0);
  assert.equal(c.charge(1000, 0), -1);
  assert.equal(c.charge(500, 10), -1);
  assert.equal(c.limited, false);
});
