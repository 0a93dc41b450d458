/**
 * Receiver wake-ups held for the length of a TX run (interrupt moderation, as a NIC's
 * rx-usecs/rx-frames). A wake-up is the dearest thing Domain-0 does per batch: the
 * Atomics.notify of a sleeping guest costs its waker some 6-20 µs of CPU on a 2-vCPU VM,
 * and a receiver faster than Domain-0 sleeps after every batch it is handed, so without a
 * hold Domain-0 pays one per pass of a TX run (each time it uses up what the sender has
 * published, which a sender running beside it publishes again) per receiver.
 *
 * While a TX run holds (`begin`..`end`, nested runs counted), an RX queue whose responses
 * cross the guest's rsp_event still publishes them at once (an awake guest takes them with
 * no event), and only the notification waits: it is sent when the run ends, or earlier when
 * the queue has put half its ring's worth of frames out since the guest asked, so the guest
 * never runs out of posted buffers for want of its wake-up. A ping's frame is a run of one
 * pass: it is notified as soon as that pass ends, as before.
 */
import type { VifDomain } from "./vif-domain.js";

/** An RX queue with a notification owed; `notifyNow` sends it (and clears it). */
export interface HeldNotify {
  notifyNow(): void;
}

/** Most queues one domain holds at once (more are notified at once, as without a hold). */
const MAX_HELD = 256;

export class NotifyHold {
  #depth = 0;
  readonly #held: (HeldNotify | null)[] = new Array(MAX_HELD).fill(null);
  #n = 0;

  /** Whether a TX run is holding notifications now. */
  get active(): boolean {
    return this.#depth > 0;
  }

  begin(): void {
    this.#depth++;
  }

  /** The run is over: every notification held meanwhile goes out. */
  end(): void {
    if (this.#depth === 0 || --this.#depth > 0) return;
    // Sent in the order they were held; a queue that is notified here may not be held again
    // in this loop (no run is active), so the list only shrinks.
    const n = this.#n;
    this.#n = 0;
    for (let i = 0; i < n; i++) {
      const q = this.#held[i]!;
      this.#held[i] = null;
      q.notifyNow();
    }
  }

  /**
   * Holds `q`'s notification until the run ends; false when it cannot be held (no run, or
   * the list is full): the caller notifies now. A queue holds at most once (the caller
   * keeps an "owed" flag and adds itself only when it first becomes owed).
   */
  hold(q: HeldNotify): boolean {
    if (this.#depth === 0 || this.#n === MAX_HELD) return false;
    this.#held[this.#n++] = q;
    return true;
  }
}

const holds = new WeakMap<VifDomain["evtchn"], NotifyHold>();

/** The domain's one NotifyHold (keyed by its event channels: every queue of it shares them). */
export function notifyHoldOf(dom: VifDomain): NotifyHold {
  let h = holds.get(dom.evtchn);
  if (h === undefined) {
    h = new NotifyHold();
    holds.set(dom.evtchn, h);
  }
  return h;
}
