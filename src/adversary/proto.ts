/**
 * Messages between the adversary's runner (main thread) and its domain programs, and the
 * `extra` each guest of an adversary host gets (HostOptions.guestExtra).
 */
import type { Outcome } from "./outcome.js";
import type { RandomTotals } from "./random.js";

/** A guest's role on an adversary host. */
export type AdvRole =
  /** A well-behaved guest: pvnet's own guest program (stack, pings, UDP echo). */
  | { readonly role: "good" }
  /** The malicious frontend, on its own vif. */
  | { readonly role: "front" }
  /**
   * The guest whose netfront the malicious backend serves: pvnet's (victim.ts), or the
   * program at `program` (a file URL) speaking the same messages around another netfront.
   */
  | { readonly role: "victim"; readonly program?: string };

/** Runner -> adversary program. */
export type AdvCommand =
  /** Answered with adv-ready once the adversary is set up (the host may boot before it is). */
  | { readonly t: "adv-hello"; readonly victim?: number }
  | { readonly t: "adv-case"; readonly name: string }
  | { readonly t: "adv-random"; readonly n: number; readonly seed: number };

/** Adversary program -> runner (Domain.report). */
export type AdvReport =
  | { readonly t: "adv-ready"; readonly error?: string }
  | {
      readonly t: "adv-case-done";
      readonly name: string;
      readonly outcome: Outcome | null;
      readonly detail: string;
      readonly vifAlive: boolean | null;
      /** The adversary's grants still published after the case (its data pages excluded). */
      readonly liveGrants: number;
      readonly error?: string;
    }
  | { readonly t: "adv-random-done"; readonly totals: RandomTotals | null; readonly error?: string };
