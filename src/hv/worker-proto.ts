/**
 * Messages between the machine (main thread, the trusted control plane) and domain
 * workers. Hot-path traffic never goes through here: it moves through shared rings and
 * event channels. Errors travel as WireError and are rebuilt on arrival.
 */
import type { WireError } from "../base/errors.js";
import type { LoopMode } from "./loop.js";

/** What a privileged domain receives about another domain. */
export interface ForeignInit {
  domid: number;
  name: string;
  memory: SharedArrayBuffer;
  grantTable: SharedArrayBuffer;
  active: SharedArrayBuffer;
}

export interface LinkInit {
  peer: number;
  sab: SharedArrayBuffer;
}

export interface DomainInit {
  domid: number;
  name: string;
  privileged: boolean;
  memory: SharedArrayBuffer;
  grantTable: SharedArrayBuffer;
  /** Own active table: a privileged domain may grant-copy through its own grants too. */
  active: SharedArrayBuffer | null;
  ports: SharedArrayBuffer;
  links: LinkInit[];
  foreign: ForeignInit[];
  /** URL of the program module: its default export is `main(dom, args)`. */
  program: string;
  args: unknown;
  loopMode: LoopMode;
}

export type HypercallOp =
  | "evtchn_alloc_unbound"
  | "evtchn_bind_interdomain"
  | "evtchn_close"
  | "evtchn_status";

export type ToDomain =
  | { t: "hret"; id: number; ok: true; value: unknown }
  | { t: "hret"; id: number; ok: false; error: WireError }
  | { t: "link-add"; link: LinkInit }
  | { t: "link-remove"; peer: number }
  | { t: "domain-added"; foreign: ForeignInit }
  | { t: "domain-destroyed"; domid: number }
  | { t: "evtchn-bound"; port: number; remoteDom: number; remotePort: number }
  | { t: "evtchn-closed"; port: number }
  | { t: "msg"; from: number; data: unknown }
  | { t: "shutdown" };

export type FromDomain =
  | { t: "hcall"; id: number; op: HypercallOp; args: Record<string, number> }
  | { t: "msg"; to: number; data: unknown }
  | { t: "report"; data: unknown }
  | { t: "ready" }
  | { t: "failed"; error: WireError }
  | { t: "stopped" };

/** The machine's own address for `msg`: the toolstack in the main thread. */
export const MACHINE = -1;
