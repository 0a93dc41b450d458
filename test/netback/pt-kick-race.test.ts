/**
 * The passthrough vif's kick protocol under a real race: Domain-0 and the sending guest in
 * threads of their own. Domain-0 asks for a kick (host_need_kick) and looks once more
 * before it sleeps; a guest that publishes between Domain-0's last empty look and that
 * request sees no request and sends no kick, so Domain-0's look after asking must find its
 * slots and, having cleared the request to forward them, ask again before it sleeps. Were it
 * to sleep with the request clear, the guest's next flush would send no kick and the vif
 * would stall. The sender publishes one flush at a time with random pauses about as long
 * as Domain-0's service, so thousands of publishes land in that window; after each burst it
 * waits until every frame has arrived.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import {
  R_DONE,
  R_GO,
  R_GOT,
  R_READY_RX,
  R_READY_TX,
  R_ROUNDS,
  R_SENT,
  R_STALLED,
  R_WORDS,
  type RaceExtra,
} from "./pt-kick-race-guest.js";

const ROUNDS = 20_000;
const MAC_TX = 0x00163e000101;
const MAC_RX = 0x00163e000102;
const hex = (m: number): string =>
  m
    .toString(16)
    .padStart(12, "0")
    .replace(/(..)(?!$)/g, "$1:");

async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("passthrough: a sender racing Domain-0's request for a kick never stalls the vif", async () => {
  const yaml =
    "domains:\n  - name: Domain-0\n" +
    `  - name: tx\n    vifs: [{ mac: "${hex(MAC_TX)}", ip: 10.0.0.1/24, passthrough: true }]\n` +
    `  - name: rx\n    vifs: [{ mac: "${hex(MAC_RX)}", ip: 10.0.0.2/24, passthrough: true }]\n` +
    "bridges:\n  vale0: {}\n";
  const r = parseHostConfig(yaml, "race.yaml");
  assert.ok(r.ok, JSON.stringify(r.ok ? null : r.issues));
  const words = new SharedArrayBuffer(R_WORDS * 4);
  const w = new Int32Array(words);
  const extra = (role: RaceExtra["role"], peerMac: number): RaceExtra => ({
    role,
    peerMac,
    words,
    rounds: ROUNDS,
    stallMs: 1000,
  });
  const host = await Host.boot(r.config, {
    socketPath: null,
    guestProgram: new URL("./pt-kick-race-guest.js", import.meta.url),
    guestExtra: (i) => (i === 0 ? extra("burst", MAC_RX) : extra("count", MAC_TX)),
  });
  try {
    await until("both passthrough vifs connected", 20_000, () => w[R_READY_TX] === 1 && w[R_READY_RX] === 1);
    Atomics.store(w, R_GO, 1);
    await until("the rounds", 120_000, () => Atomics.load(w, R_DONE) === 1);
    const stalled = Atomics.load(w, R_STALLED);
    assert.equal(
      stalled,
      0,
      `the vif stalled in round ${stalled}: ${Atomics.load(w, R_SENT)} frames sent, ${Atomics.load(w, R_GOT)} received`,
    );
    assert.equal(Atomics.load(w, R_ROUNDS), ROUNDS);
    assert.equal(Atomics.load(w, R_GOT), Atomics.load(w, R_SENT));
  } finally {
    await host.shutdown();
  }
});
