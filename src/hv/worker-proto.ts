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
  /** The domain's doorbell (bell.ts): the machine rings it with each message in block mode. */
  bell: SharedArrayBuffer;
  /** The thread's nice value, set before the program loads; null: left as it is. */
  nice: number | null;
  /** The CPUs the thread is bound to before its program runs (cpus.ts); null: any. */
  cpus: number[] | null;
  /** Bound on this domain's live mappings of any one granter's grants (null: the default). */
  mapsPerDomain: number | null;
  /** The thread probe (thread-probe.ts) the worker fills for the machine's readers. */
  probe?: SharedArrayBuffer;
}

export type HypercallOp =
  | "evtchn_alloc_unbound"
  | "evtchn_bind_interdomain"
  | "evtchn_close"
  | "evtchn_status";

/** The numeric arguments each hypercall takes. */
const HYPERCALL_ARGS: Readonly<Record<HypercallOp, readonly string[]>> = {
  evtchn_alloc_unbound: ["remoteDom"],
  evtchn_bind_interdomain: ["remoteDom", "remotePort"],
  evtchn_close: ["port"],
  evtchn_status: ["port"],
};

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

/** Longest error code and message the machine keeps from a domain's "failed". */
const MAX_CODE = 64;
const MAX_MESSAGE = 1024;

/**
 * Checks the shape of a message a domain worker posted: a worker is guest code, so what it
 * posts is untrusted input. Returns a fresh FromDomain holding only the checked fields, or
 * a short reason why not. Never throws, whatever `m` is (null, a number, a 16 MB string, an
 * object with the wrong types).
 */
export function parseFromDomain(m: unknown): FromDomain | string {
  if (typeof m !== "object" || m === null || Array.isArray(m)) return `not an object (${kind(m)})`;
  const o = m as Record<string, unknown>;
  switch (o.t) {
    case "hcall": {
      if (!isCount(o.id)) return "hcall: id must be a non-negative integer";
      const op = o.op;
      if (typeof op !== "string" || !Object.hasOwn(HYPERCALL_ARGS, op)) return "hcall: unknown op";
      const raw = o.args;
      if (typeof raw !== "object" || raw === null) return `hcall ${op}: args must be an object`;
      const args: Record<string, number> = {};
      for (const k of HYPERCALL_ARGS[op as HypercallOp]) {
        const v = (raw as Record<string, unknown>)[k];
        if (typeof v !== "number") return `hcall ${op}: ${k} must be a number`;
        args[k] = v;
      }
      return { t: "hcall", id: o.id, op: op as HypercallOp, args };
    }
    case "msg":
      if (!Number.isSafeInteger(o.to)) return "msg: to must be an integer";
      return { t: "msg", to: o.to as number, data: o.data };
    case "report":
      return { t: "report", data: o.data };
    case "ready":
      return { t: "ready" };
    case "stopped":
      return { t: "stopped" };
    case "failed": {
      const e = o.error as Record<string, unknown> | null | undefined;
      if (typeof e !== "object" || e === null || typeof e.code !== "string" || typeof e.message !== "string")
        return "failed: error must have a string code and message";
      return {
        t: "failed",
        error: { code: e.code.slice(0, MAX_CODE), message: e.message.slice(0, MAX_MESSAGE) },
      };
    }
    default:
      return typeof o.t === "string" ? `unknown type "${o.t.slice(0, 32)}"` : `type is ${kind(o.t)}`;
  }
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function kind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}
