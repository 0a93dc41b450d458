/**
 * netback's side of the XenbusState machine, as pure decisions (xen-protocol.md §3.3).
 *
 * Linux's netback never jumps: `set_backend_state` walks one legal step at a time toward a
 * target, running `connect` or `disconnect` on the steps that need them, so every state the
 * frontend (and anyone watching with xenstore-watch) sees is one a real backend passes
 * through. Keeping the walk pure lets the driver own only the side effects, and lets a
 * property test check the whole table.
 */
import { XenbusState } from "../xenstore/xenbus.js";

/** The states a backend is driven toward (Linux's `set_backend_state` targets). */
export type BackendTarget =
  | XenbusState.InitWait
  | XenbusState.Connected
  | XenbusState.Closing
  | XenbusState.Closed;

/** What a step asks the driver to do before it writes the new state. */
export enum StepAction {
  None = 0,
  /** Map rings, bind channels, attach to the switch; on failure the device goes fatal. */
  Connect = 1,
  /** Unbind, unmap, end every grant use: nothing of the frontend's may stay held. */
  Disconnect = 2,
}

export interface BackendStep {
  readonly next: XenbusState;
  readonly action: StepAction;
}

const S = XenbusState;

/**
 * One step from `cur` toward `target`, or undefined when `cur` is the target or no step
 * leads on (a state a backend never rests in, such as Unknown or Reconfiguring).
 */
export function backendStep(cur: XenbusState, target: BackendTarget): BackendStep | undefined {
  if (cur === target) return undefined;
  switch (cur) {
    case S.Initialising:
      return { next: target === S.Closed ? S.Closed : S.InitWait, action: StepAction.None };
    case S.Closed:
      return { next: target === S.Closing ? S.Closing : S.InitWait, action: StepAction.None };
    case S.InitWait:
      if (target === S.Connected) return { next: S.Connected, action: StepAction.Connect };
      return { next: S.Closing, action: StepAction.None };
    case S.Connected:
      return { next: S.Closing, action: StepAction.Disconnect };
    case S.Closing:
      return { next: S.Closed, action: StepAction.None };
    default:
      return undefined;
  }
}

/**
 * The whole walk from `cur` to `target`, bounded: the table reaches any target in at most
 * four steps, so a longer walk would be a bug in the table, not a slow path.
 */
export function backendWalk(cur: XenbusState, target: BackendTarget): BackendStep[] {
  const steps: BackendStep[] = [];
  let s = cur;
  for (let i = 0; i < 4; i++) {
    const step = backendStep(s, target);
    if (step === undefined) break;
    steps.push(step);
    s = step.next;
  }
  return steps;
}

/** What netback does when the frontend's state changes (Linux's `frontend_changed`). */
export type FrontendReaction =
  | { readonly kind: "walk"; readonly target: BackendTarget; readonly unregister: boolean }
  | { readonly kind: "reconfigure" }
  | { readonly kind: "ignore" }
  /** A state a frontend has no business writing: xenbus_dev_fatal with EINVAL. */
  | { readonly kind: "fatal"; readonly reason: string };

/**
 * The reaction to frontend state `fe`. State 3 (Initialised) is ignored: Linux netback
 * connects only on 4. A frontend back in Initialising drives the backend toward InitWait,
 * which from Connected walks through Closing and Closed, so a reconnecting guest always
 * finds a backend that has released everything of its previous connection.
 */
export function frontendReaction(fe: number, online: boolean): FrontendReaction {
  switch (fe) {
    case S.Initialising:
      return walk(S.InitWait);
    case S.Initialised:
      return ignore;
    case S.Connected:
      return walk(S.Connected);
    case S.Closing:
      return walk(S.Closing);
    case S.Closed:
      return { kind: "walk", target: S.Closed, unregister: !online };
    case S.Unknown:
      return { kind: "walk", target: S.Closed, unregister: true };
    case S.Reconfiguring:
      return { kind: "reconfigure" };
    default:
      return { kind: "fatal", reason: `saw state ${fe} at frontend` };
  }
}

const ignore: FrontendReaction = { kind: "ignore" };

function walk(target: BackendTarget): FrontendReaction {
  return { kind: "walk", target, unregister: false };
}
