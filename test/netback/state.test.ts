import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  type BackendTarget,
  backendStep,
  backendWalk,
  frontendReaction,
  StepAction,
} from "../../src/netback/state.js";
import { XenbusState as S } from "../../src/xenstore/xenbus.js";

// xen-protocol.md §3.3, Linux's set_backend_state: row = from, column = toward.
const TABLE: [S, BackendTarget, S | undefined, StepAction][] = [
  [S.Initialising, S.InitWait, S.InitWait, StepAction.None],
  [S.Initialising, S.Connected, S.InitWait, StepAction.None],
  [S.Initialising, S.Closing, S.InitWait, StepAction.None],
  [S.Initialising, S.Closed, S.Closed, StepAction.None],
  [S.Closed, S.InitWait, S.InitWait, StepAction.None],
  [S.Closed, S.Connected, S.InitWait, StepAction.None],
  [S.Closed, S.Closing, S.Closing, StepAction.None],
  [S.Closed, S.Closed, undefined, StepAction.None],
  [S.InitWait, S.InitWait, undefined, StepAction.None],
  [S.InitWait, S.Connected, S.Connected, StepAction.Connect],
  [S.InitWait, S.Closing, S.Closing, StepAction.None],
  [S.InitWait, S.Closed, S.Closing, StepAction.None],
  [S.Connected, S.InitWait, S.Closing, StepAction.Disconnect],
  [S.Connected, S.Connected, undefined, StepAction.None],
  [S.Connected, S.Closing, S.Closing, StepAction.Disconnect],
  [S.Connected, S.Closed, S.Closing, StepAction.Disconnect],
  [S.Closing, S.InitWait, S.Closed, StepAction.None],
  [S.Closing, S.Connected, S.Closed, StepAction.None],
  [S.Closing, S.Closing, undefined, StepAction.None],
  [S.Closing, S.Closed, S.Closed, StepAction.None],
];

test("backendStep follows Linux's set_backend_state table cell by cell", () => {
  for (const [from, toward, next, action] of TABLE) {
    const step = backendStep(from, toward);
    assert.equal(step?.next, next, `${S[from]} toward ${S[toward]}`);
    if (step) assert.equal(step.action, action, `${S[from]} toward ${S[toward]}: action`);
  }
});

const resting = fc.constantFrom(S.Initialising, S.InitWait, S.Connected, S.Closing, S.Closed);
const target = fc.constantFrom<BackendTarget>(S.InitWait, S.Connected, S.Closing, S.Closed);

test("a walk reaches its target in at most four legal steps, connecting only from InitWait", () => {
  fc.assert(
    fc.property(resting, target, (from, toward) => {
      const steps = backendWalk(from, toward);
      assert.ok(steps.length <= 4);
      let s: S = from;
      for (const step of steps) {
        assert.notEqual(step.next, s, "a step always moves");
        if (step.action === StepAction.Connect) assert.ok(s === S.InitWait && step.next === S.Connected);
        if (step.action === StepAction.Disconnect) assert.ok(s === S.Connected && step.next === S.Closing);
        if (s === S.Connected)
          assert.equal(step.action, StepAction.Disconnect, "leaving Connected disconnects");
        s = step.next;
      }
      assert.equal(s, toward);
    }),
  );
});

test("any frontend history leaves the backend connected exactly when it sits in Connected", () => {
  const feState = fc.integer({ min: 0, max: 12 });
  fc.assert(
    fc.property(fc.array(feState, { maxLength: 40 }), fc.boolean(), (history, online) => {
      let be = S.InitWait as S;
      let connected = false;
      for (const fe of history) {
        const r = frontendReaction(fe, online);
        if (r.kind === "fatal") {
          assert.ok(
            fe === S.InitWait || fe > S.Reconfiguring,
            `fatal only for states a frontend never writes, got ${fe}`,
          );
          continue;
        }
        if (r.kind !== "walk") continue;
        for (const step of backendWalk(be, r.target)) {
          if (step.action === StepAction.Connect) {
            assert.equal(connected, false, "never connect twice");
            connected = true;
          }
          if (step.action === StepAction.Disconnect) {
            assert.equal(connected, true, "never disconnect what is not connected");
            connected = false;
          }
          be = step.next;
        }
        assert.equal(connected, be === S.Connected);
      }
    }),
  );
});

test("the frontend's Initialised is ignored and Initialising from Connected goes round via Closed", () => {
  assert.equal(frontendReaction(S.Initialised, true).kind, "ignore");
  const r = frontendReaction(S.Initialising, true);
  assert.equal(r.kind, "walk");
  if (r.kind !== "walk") return;
  assert.deepEqual(
    backendWalk(S.Connected, r.target).map((s) => s.next),
    [S.Closing, S.Closed, S.InitWait],
  );
});

test("a closed frontend unregisters the device only when the toolstack set online to 0", () => {
  assert.deepEqual(frontendReaction(S.Closed, true), { kind: "walk", target: S.Closed, unregister: false });
  assert.deepEqual(frontendReaction(S.Closed, false), { kind: "walk", target: S.Closed, unregister: true });
  assert.deepEqual(frontendReaction(S.Unknown, true), { kind: "walk", target: S.Closed, unregister: true });
  assert.equal(frontendReaction(S.Reconfiguring, true).kind, "reconfigure");
  assert.equal(frontendReaction(42, true).kind, "fatal");
  assert.equal(frontendReaction(S.InitWait, true).kind, "fatal", "InitWait is a backend state");
});
