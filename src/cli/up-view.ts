/**
 * `pvnet up`'s live view: the host's status as text, with per-second rates from the
 * difference of two samples. Pure functions of the status, so tests can check the text.
 */
import type { HostStatus, VifStatus } from "../toolstack/host.js";

export interface Sample {
  readonly atMs: number;
  readonly status: HostStatus;
}

/**
 * Frames and bytes per second each way, as Domain-0 sees vifN.M (Linux's direction): tx went
 * to the guest, rx came from it.
 */
export interface VifRates {
  txPps: number;
  txBps: number;
  rxPps: number;
  rxBps: number;
}

export function vifRates(prev: VifStatus | undefined, cur: VifStatus, seconds: number): VifRates {
  if (prev === undefined || seconds <= 0) return { txPps: 0, txBps: 0, rxPps: 0, rxBps: 0 };
  const d = (k: "tx_packets" | "tx_bytes" | "rx_packets" | "rx_bytes"): number =>
    Math.max(0, cur.counters[k] - prev.counters[k]) / seconds;
  return {
    txPps: d("tx_packets"),
    txBps: d("tx_bytes") * 8,
    rxPps: d("rx_packets"),
    rxBps: d("rx_bytes") * 8,
  };
}

export function vifDrops(v: VifStatus): number {
  return v.counters.tx_dropped + v.counters.rx_dropped;
}

export function vifErrors(v: VifStatus): number {
  return v.counters.tx_fatal + v.counters.grant_errors + (v.fatal ? 1 : 0);
}

/** 1234567 -> "1.23M". */
export function si(n: number): string {
  if (n < 1000) return n.toFixed(0);
  const units = ["k", "M", "G", "T"];
  let u = -1;
  let x = n;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return `${x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0)}${units[u]}`;
}

function state(e: { state: number; stateName: string }): string {
  return `${e.stateName}(${e.state})`;
}

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(w[c]!))
      .join("  ")
      .trimEnd(),
  );
}

/**
 * The sample to measure rates against: the newest in `history` at least `minMs` older than
 * `cur`, else the oldest. The last frame (after Ctrl-C or --for) comes moments after the one
 * before it, when Domain-0 may not even have copied the counters again (every 250 ms):
 * measured over that gap a busy vif would show 0 pps, so it keeps the last full window.
 */
export function rateBase(cur: Sample, history: readonly Sample[], minMs = 500): Sample | undefined {
  for (let i = history.length - 1; i >= 0; i--) if (cur.atMs - history[i]!.atMs >= minMs) return history[i];
  return history[0];
}

/** The view's first line: the time so far, and how to stop; the last frame says it is the last. */
export function viewHeader(seconds: number, final: boolean): string {
  return final ? `-- last view, after ${seconds.toFixed(1)}s` : `-- ${seconds.toFixed(0)}s (Ctrl-C to stop)`;
}

/** The view's lines: domains, vifs with both ends' states, rates, drops and errors, pings. */
export function viewLines(cur: Sample, prev: Sample | undefined, header: string): string[] {
  const seconds = prev === undefined ? 0 : (cur.atMs - prev.atMs) / 1000;
  const lines = [header];
  lines.push(
    ...table([
      ["DOMAIN", "ID", "STATE", "MEMORY", "CHANNELS"],
      ...cur.status.domains.map((d) => [
        d.name,
        String(d.domid),
        d.state,
        `${(d.pages * 4) / 1024}M`,
        String(d.channels),
      ]),
    ]),
  );
  lines.push("");
  lines.push(
    ...table([
      [
        "VIF",
        "DOMAIN",
        "BACKEND",
        "FRONTEND",
        "QUEUES",
        "TX pps",
        "TX bit/s",
        "RX pps",
        "RX bit/s",
        "DROPS",
        "ERRORS",
      ],
      ...cur.status.vifs.map((v) => {
        const before = prev?.status.vifs.find((p) => p.name === v.name);
        const r = vifRates(before, v, seconds);
        return [
          v.name,
          v.domain,
          state(v.backend),
          state(v.frontend),
          String(v.queues),
          si(r.txPps),
          si(r.txBps),
          si(r.rxPps),
          si(r.rxBps),
          String(vifDrops(v)),
          String(vifErrors(v)),
        ];
      }),
    ]),
  );
  if (cur.status.pings.length > 0) {
    lines.push("");
    lines.push(
      ...table([
        ["FROM", "TO", "PROBE", "SENT", "RECEIVED", "RTT min/avg/max ms", "LAST ERROR"],
        ...cur.status.pings.map((p) => [
          p.from,
          p.to,
          p.kind === "icmp" ? "ping" : "udp echo",
          String(p.sent),
          String(p.received),
          p.rttMs === null
            ? "-"
            : `${p.rttMs.min.toFixed(3)}/${p.rttMs.avg.toFixed(3)}/${p.rttMs.max.toFixed(3)}`,
          p.lastError ?? "",
        ]),
      ]),
    );
  }
  if (cur.status.uplinks.length > 0) {
    lines.push("");
    lines.push(
      ...table([
        ["UPLINK", "VNI", "LOCAL", "TX pps", "RX pps", "LEARNT", "DROPS", "ERRORS"],
        ...cur.status.uplinks.map((u) => {
          const c = u.counters;
          const was = prev?.status.uplinks.find((p) => p.name === u.name)?.counters;
          const pps = (now: number, then: number | undefined): string =>
            then === undefined || seconds <= 0 ? "-" : si((now - then) / seconds);
          return [
            u.name,
            u.type === "vxlan" ? String(u.vni) : "-",
            u.type === "vxlan" ? `${u.local}:${u.port}` : `tap ${u.device}`,
            pps(c.tx_packets, was?.tx_packets),
            pps(c.rx_packets, was?.rx_packets),
            u.type === "vxlan" ? String(u.learnt.length) : "-",
            String(c.rx_dropped + c.rx_missed_errors + c.tx_dropped),
            String(c.rx_errors + c.tx_errors),
          ];
        }),
      ]),
    );
  }
  return lines;
}

/** The final status as `pvnet up --json` prints it. */
export function statusJson(s: HostStatus, extra: Record<string, unknown> = {}): unknown {
  return {
    ...extra,
    domains: s.domains.map((d) => ({
      domid: d.domid,
      name: d.name,
      state: d.state,
      privileged: d.privileged,
      memoryMiB: (d.pages * 4) / 1024,
      channels: d.channels,
    })),
    vifs: s.vifs.map((v) => ({
      name: v.name,
      domid: v.domid,
      domain: v.domain,
      devid: v.devid,
      mac: v.mac,
      ip: v.ip,
      bridge: v.bridge,
      frontend: v.frontend,
      backend: v.backend,
      hotplug: v.hotplug,
      queues: v.queues,
      ringPageOrder: v.ringPageOrder,
      splitEventChannels: v.splitEventChannels,
      counters: v.counters,
      stack: v.stack,
    })),
    pings: s.pings,
    uplinks: s.uplinks,
    bridges: s.bridges,
  };
}
