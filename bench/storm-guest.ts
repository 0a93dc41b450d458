/**
 * The guests of `pvnet bench storm`: those of `bench vif` (a sender and a receiver), plus a
 * third that, once told to go, attacks Domain-0's event channels from its vif:
 * "storm-send" fires every channel it has bound to Domain-0 (its vif's and its xenstore
 * ring's) as fast as it can, with no request behind any of them (XSA-332's rogue guest);
 * "storm-forge" writes Domain-0's half of their link page, every pending and selector bit
 * set and the wake word bumped each time, which no honest sender can do; "storm-spin", the
 * control, is as busy a thread touching no channel (on a small machine the attacker's CPU
 * is a cost of its own, which no event-channel defence removes).
 */
import type { Domain } from "../src/hv/domain.js";
import {
  EVTCHN_NR_PORTS,
  PORT_INTERDOMAIN,
  portRemoteDom,
  portState,
  SIDE_PENDING,
  SIDE_SEL,
  SIDE_WAKE,
  sideBase,
} from "../src/hv/evtchn.js";
import type { GuestArgs } from "../src/toolstack/host-proto.js";
import vifGuest, { type VifBenchExtra, W_GO, W_READY, W_TX } from "./vif-guest.js";

export type StormRole = "storm-send" | "storm-forge" | "storm-spin";

/** How long a storm burst runs before it lets the guest's own loop and messages in. */
const BURST_MS = 5;

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const x = args.extra as VifBenchExtra | (Omit<VifBenchExtra, "role"> & { role: StormRole });
  if (x.role !== "storm-send" && x.role !== "storm-forge" && x.role !== "storm-spin")
    return vifGuest(dom, args);
  const w = new Float64Array(x.words);
  // Half a vif guest: a "rx" role connects the vif (and counts nothing it is not sent).
  await vifGuest(dom, { ...args, extra: { ...x, role: "rx" } });
  const role = x.role;
  const t = dom.timers.every(5, () => {
    if (w[W_READY] !== 1 || w[W_GO] !== 1) return;
    dom.timers.cancel(t);
    const burst = (): void => {
      const end = performance.now() + BURST_MS;
      while (performance.now() < end) w[W_TX] += attack(dom, role);
      setImmediate(burst);
    };
    burst();
  });
}

function attack(dom: Domain, role: StormRole): number {
  if (role === "storm-send") return sendAll(dom);
  if (role === "storm-forge") return forge(dom);
  // The control: the same busy thread, touching no channel.
  let n = 0;
  for (let p = 1; p < EVTCHN_NR_PORTS; p++) n += dom.evtchn.portInfo(p) === -1 ? 1 : 0;
  return n;
}

/** One send on every port bound to Domain-0; returns how many. */
function sendAll(dom: Domain): number {
  let n = 0;
  for (let p = 1; p < EVTCHN_NR_PORTS; p++) {
    const info = dom.evtchn.portInfo(p);
    if (portState(info) !== PORT_INTERDOMAIN || portRemoteDom(info) !== 0) continue;
    dom.evtchn.send(p);
    n++;
  }
  return n;
}

/** Every pending and selector bit of Domain-0's side of our link, and a wake-up. */
function forge(dom: Domain): number {
  const side = dom.evtchn.sides.find((s) => s.peer === 0);
  if (side === undefined) return 0;
  const { w } = side;
  const base = sideBase(0, dom.domid);
  for (let k = 0; k < EVTCHN_NR_PORTS / 32; k++) Atomics.store(w, base + SIDE_PENDING + k, -1);
  for (let k = 0; k < 4; k++) Atomics.store(w, base + SIDE_SEL + k, -1);
  Atomics.add(w, base + SIDE_WAKE, 1);
  Atomics.notify(w, base + SIDE_WAKE);
  return 1;
}
