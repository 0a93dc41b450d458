/**
 * Boots a Machine with the xenbus test Domain-0 and lets a test talk to its domains by
 * message and wait for their reports.
 */
import assert from "node:assert/strict";
import { Machine } from "../../src/hv/machine.js";
import type { NbDom0Args } from "./programs/xb-dom0.js";

const program = (p: string) => new URL(p, import.meta.url);
export const DOM0 = program("./programs/xb-dom0.js");
export const NF_GUEST = program("../netfront/programs/xb-guest.js");
export const RUDE_FRONT = program("./programs/rude-front.js");

// biome-ignore lint/suspicious/noExplicitAny: reports are whatever the test programs send
export type Report = any;

export class Rig {
  readonly m = new Machine({ log: () => {} });
  readonly errors: string[] = [];
  readonly #reports: { from: number; r: Report }[] = [];
  readonly #waiters: { from: number; t: string; resolve: (r: Report) => void }[] = [];

  constructor() {
    this.m.on("domain-failed", (id: number, e: Error) => this.errors.push(`dom${id}: ${e.message}`));
    this.m.on("report", (from: number, r: Report) => {
      if (r?.t === "error") this.errors.push(`dom${from}: ${r.message}`);
      const i = this.#waiters.findIndex((w) => w.from === from && w.t === r?.t);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(r);
      else this.#reports.push({ from, r });
    });
  }

  static async boot(args: NbDom0Args = {}): Promise<Rig> {
    const rig = new Rig();
    await rig.m.createDomain({ name: "Domain-0", pages: 256, program: DOM0, args });
    return rig;
  }

  /** The next report `t` from `from` (one already received counts). */
  next(from: number, t: string, ms = 5000): Promise<Report> {
    const i = this.#reports.findIndex((x) => x.from === from && x.r?.t === t);
    if (i >= 0) return Promise.resolve(this.#reports.splice(i, 1)[0]!.r);
    return new Promise((resolve, reject) => {
      const w = { from, t, resolve };
      this.#waiters.push(w);
      setTimeout(() => {
        const k = this.#waiters.indexOf(w);
        if (k < 0) return;
        this.#waiters.splice(k, 1);
        reject(new Error(`timed out waiting for "${t}" from dom${from}; errors: ${this.errors.join("; ")}`));
      }, ms);
    });
  }

  /** Posts `msg` to `to` and waits for its report `t`. */
  ask(to: number, msg: unknown, t: string, ms = 5000): Promise<Report> {
    const p = this.next(to, t, ms);
    this.m.post(to, msg);
    return p;
  }

  dom0Stats(): Promise<Report> {
    return this.ask(0, { t: "stats" }, "stats");
  }

  /** Polls Domain-0's stats until `ok` holds. */
  async until(what: string, ok: (s: Report) => boolean, ms = 5000): Promise<Report> {
    const t0 = Date.now();
    for (;;) {
      const s = await this.dom0Stats();
      if (ok(s)) return s;
      if (Date.now() - t0 > ms)
        assert.fail(`timed out waiting for ${what}: ${JSON.stringify(s.devices)} ${s.lines.join(" | ")}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Polls a guest's stats until `ok` holds. */
  async guestUntil(id: number, what: string, ok: (s: Report) => boolean, ms = 5000): Promise<Report> {
    const t0 = Date.now();
    for (;;) {
      const s = await this.ask(id, { t: "stats" }, "stats");
      if (ok(s)) return s;
      if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** A netfront guest with the device written and probed; returns its domid and "connected" report. */
  async guest(args: object = {}, devid = 0, mac = "00:16:3e:00:00:01"): Promise<{ id: number; r: Report }> {
    const id = await this.m.createDomain({ name: `g${Math.random()}`, pages: 256, program: NF_GUEST, args });
    await this.ask(0, { t: "add", fe: id, devid, mac }, "added");
    const r = await this.ask(id, { t: "probe", devid }, "connected");
    return { id, r };
  }

  async close(): Promise<void> {
    await this.m.shutdown(1000);
  }
}

/** The backend device of guest `fe` in a stats report. */
export function dev(s: Report, fe: number, devid = 0): Report {
  return s.devices.find((d: Report) => d.frontDomid === fe && d.devid === devid);
}
