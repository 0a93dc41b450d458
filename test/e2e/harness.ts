/**
 * Boots a real host (Domain-0 with xenstored, VALE and netback; guests running
 * programs/chain-guest.ts over netfront) and drives its guests from the test thread:
 * send frames, read back what each guest received, read both drivers' counters.
 */
import { PvnetError } from "../../src/base/errors.js";
import { VIF_QUEUE_COUNTERS, type VifQueueCounter } from "../../src/netback/counters.js";
import { NETFRONT_QUEUE_COUNTERS, type NetfrontQueueCounter } from "../../src/netfront/counters.js";
import { formatIssue, parseHostConfig } from "../../src/toolstack/config.js";
import { Host } from "../../src/toolstack/host.js";
import { XenbusState } from "../../src/xenstore/xenbus.js";
import { parseMac } from "./frames.js";
import {
  type ChainCommand,
  type ChainExtra,
  type ChainReport,
  MAX_RECS,
  REC_WORDS,
  type SendItem,
  W_DATA,
  W_HELLO_RX,
  W_READY,
  W_RX,
  W_WORDS,
} from "./programs/chain-guest.js";

export interface GuestSpec {
  readonly queues?: number;
  readonly ringPageOrder?: number;
  readonly split?: boolean;
  readonly sg?: boolean;
  readonly gso?: boolean;
  readonly csum?: boolean;
  /** The vif's rx-mode (default copy). */
  readonly rxMode?: "copy" | "flip";
  /** The vif's staging-grants (default true). */
  readonly staging?: boolean;
}

export interface Received {
  readonly len: number;
  readonly flags: number;
  readonly gsoType: number;
  readonly gsoSize: number;
  /** null when the bytes did not fit the guest's record area. */
  readonly bytes: Uint8Array | null;
}

export interface ChainGuest {
  readonly index: number;
  readonly domid: number;
  readonly mac: number;
  readonly extra: ChainExtra;
  readonly words: Float64Array;
  /** netfront's per-queue counter buffers, once connected. */
  counters: SharedArrayBuffer[];
}

const DATA_BYTES = 8 << 20;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export function hostYaml(guests: readonly GuestSpec[]): string {
  const lines = ["domains:", "  - name: Domain-0", "    memory: 64M"];
  guests.forEach((g, i) => {
    const n = i + 1;
    const hex = n.toString(16).padStart(2, "0");
    lines.push(
      `  - name: guest${n}`,
      "    memory: 32M",
      "    vifs:",
      `      - mac: "00:16:3e:00:${hex}:00"`,
      `        ip: 10.0.0.${n}/24`,
      "        bridge: vale0",
      `        queues: ${g.queues ?? 1}`,
      `        ring-page-order: ${g.ringPageOrder ?? 0}`,
      `        rx-mode: ${g.rxMode ?? "copy"}`,
      `        staging-grants: ${g.staging ?? true}`,
      "        features:",
      `          sg: ${g.sg ?? true}`,
      `          gso-tcpv4: ${g.gso ?? true}`,
      `          gso-tcpv6: ${g.gso ?? true}`,
      `          csum-offload: ${g.csum ?? true}`,
      `          ipv6-csum-offload: ${g.csum ?? true}`,
      `          split-event-channels: ${g.split ?? true}`,
    );
  });
  lines.push("bridges:", "  vale0: {}");
  return `${lines.join("\n")}\n`;
}

export async function until(what: string, ms: number, ok: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export class Chain {
  readonly host: Host;
  readonly guests: ChainGuest[];
  readonly logs: string[];
  #nextId = 1;
  readonly #waiting = new Map<number, () => void>();

  private constructor(host: Host, guests: ChainGuest[], logs: string[]) {
    this.host = host;
    this.guests = guests;
    this.logs = logs;
    host.machine.on("report", (_domid: number, data: unknown) => {
      const r = data as ChainReport | null;
      if (r?.t === "e2e-done") {
        this.#waiting.get(r.id)?.();
        this.#waiting.delete(r.id);
      }
    });
  }

  /** Boots Domain-0 and one chain guest per spec; resolves once every vif is Connected at both ends. */
  static async boot(specs: readonly GuestSpec[]): Promise<Chain> {
    const r = parseHostConfig(hostYaml(specs), "chain.yaml");
    if (!r.ok) throw new PvnetError("EINVAL", r.issues.map(formatIssue).join("; "));
    const guests: ChainGuest[] = specs.map((_, i) => {
      const extra: ChainExtra = {
        words: new SharedArrayBuffer(W_WORDS * 8),
        recs: new SharedArrayBuffer(MAX_RECS * REC_WORDS * 4),
        data: new SharedArrayBuffer(DATA_BYTES),
        hang: new SharedArrayBuffer(4),
      };
      return {
        index: i,
        domid: i + 1,
        mac: parseMac(r.config.domains[i + 1].vifs[0].mac),
        extra,
        words: new Float64Array(extra.words),
        counters: [],
      };
    });
    const logs: string[] = [];
    const errors: string[] = [];
    const host = await Host.boot(r.config, {
      socketPath: null,
      guestProgram: new URL("./programs/chain-guest.js", import.meta.url),
      guestExtra: (i) => guests[i].extra,
      statusMs: 10,
      log: (l) => logs.push(l),
    });
    const chain = new Chain(host, guests, logs);
    host.machine.on("report", (domid: number, data: unknown) => {
      const rep = data as ChainReport | null;
      if (rep?.t === "e2e-ready") {
        const g = guests.find((x) => x.domid === domid);
        if (g !== undefined) g.counters = rep.counters;
      } else if (rep?.t === "e2e-error") errors.push(`dom${domid}: ${rep.error}`);
    });
    let last = "";
    try {
      await until("every vif Connected at both ends", 8000, () => {
        if (errors.length > 0) throw new Error(errors.join("; "));
        const s = host.status();
        last = JSON.stringify(s.vifs.map((v) => [v.name, v.frontend.state, v.backend.state]));
        return (
          guests.every((g) => g.words[W_READY] === 1) &&
          s.vifs.every(
            (v) => v.frontend.state === XenbusState.Connected && v.backend.state === XenbusState.Connected,
          )
        );
      });
      // netfront's counter buffers (the guest reports them when asked, once connected).
      for (const g of guests) await chain.#command(g, { t: "counters" });
      if (!guests.every((g) => g.counters.length > 0)) throw new Error("no netfront counters");
    } catch (e) {
      await host.shutdown();
      throw new Error(`${e instanceof Error ? e.message : String(e)} ${last}\n${logs.slice(-20).join("\n")}`);
    }
    return chain;
  }

  #command(g: ChainGuest, c: DistributiveOmit<ChainCommand, "id">, ms = 8000): Promise<void> {
    const id = this.#nextId++;
    const p = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`guest${g.domid}: ${c.t} not done within ${ms} ms`));
      }, ms);
      // A command a destroyed guest never finishes must not hold the test process.
      t.unref();
      this.#waiting.set(id, () => {
        clearTimeout(t);
        resolve();
      });
    });
    this.host.machine.post(g.domid, { ...c, id });
    return p;
  }

  /** Resolves once the guest has handed every frame to netfront. */
  send(g: ChainGuest, items: SendItem[]): Promise<void> {
    return this.#command(g, { t: "send", items });
  }

  clear(g: ChainGuest): Promise<void> {
    return this.#command(g, { t: "clear" });
  }

  hang(g: ChainGuest): Promise<void> {
    return this.#command(g, { t: "hang" });
  }

  unhang(g: ChainGuest): void {
    const h = new Int32Array(g.extra.hang);
    Atomics.store(h, 0, 0);
    Atomics.notify(h, 0);
  }

  /** Every guest broadcasts once, so the switch learns every MAC (no flooding after). */
  async hello(): Promise<void> {
    const before = this.guests.map((g) => g.words[W_HELLO_RX]);
    for (const g of this.guests) await this.#command(g, { t: "hello" });
    const n = this.guests.length - 1;
    await until("hellos", 3000, () => this.guests.every((g, i) => g.words[W_HELLO_RX] >= before[i] + n));
  }

  rxCount(g: ChainGuest): number {
    return g.words[W_RX];
  }

  received(g: ChainGuest): Received[] {
    const recs = new Int32Array(g.extra.recs);
    const data = new Uint8Array(g.extra.data);
    const n = g.words[W_RX];
    const out: Received[] = [];
    let at = 0;
    for (let i = 0; i < n; i++) {
      const r = i * REC_WORDS;
      const raw = recs[r];
      const len = Math.abs(raw);
      let bytes: Uint8Array | null = null;
      if (raw > 0) {
        bytes = data.slice(at, at + len);
        at += len;
      }
      out.push({ len, flags: recs[r + 1], gsoType: recs[r + 2], gsoSize: recs[r + 3], bytes });
    }
    if (at > g.words[W_DATA]) throw new Error("record area inconsistent");
    return out;
  }

  /** netfront's counters of the guest, summed over queues. */
  front(g: ChainGuest): Record<NetfrontQueueCounter, number> {
    const out = {} as Record<NetfrontQueueCounter, number>;
    NETFRONT_QUEUE_COUNTERS.forEach((name, i) => {
      out[name] = g.counters.reduce((s, b) => s + new Float64Array(b)[i], 0);
    });
    return out;
  }

  /** netfront's counter `name` per queue. */
  frontPerQueue(g: ChainGuest, name: NetfrontQueueCounter): number[] {
    const i = NETFRONT_QUEUE_COUNTERS.indexOf(name);
    return g.counters.map((b) => new Float64Array(b)[i]);
  }

  /** netback's counters of the guest's vif, summed over queues (at most a status period old). */
  back(g: ChainGuest): Record<VifQueueCounter, number> {
    const v = this.host.status().vifs.find((x) => x.domid === g.domid);
    if (v === undefined) {
      const z = {} as Record<VifQueueCounter, number>;
      for (const n of VIF_QUEUE_COUNTERS) z[n] = 0;
      return z;
    }
    return v.counters;
  }

  async shutdown(): Promise<void> {
    for (const g of this.guests) this.unhang(g);
    await this.host.shutdown();
  }
}
