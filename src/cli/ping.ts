/**
 * `pvnet ping DOMAIN IP`: ping(8) run inside a guest's stack of a running host. Each echo is
 * one control request (the guest sends it and reports the reply); the lines and the summary
 * are iputils' own, and the exit status is ping's: 1 when nothing answered.
 */
import { type Command, InvalidArgumentError } from "commander";
import { parseIpv4 } from "../wire/net/ipv4.js";
import { controlRequest, defaultControlSocket } from "./control-client.js";
import { ENV_HELP } from "./env-help.js";
import { socketPathArg, usage } from "./style.js";

interface PingOpts {
  control?: string;
  json?: boolean;
  count?: number;
  interval: number;
  timeout: number;
}

/** One echo as the host answered it. */
export interface Echo {
  seq: number;
  ok: boolean;
  rttMs?: number;
  ttl?: number;
  dataLen?: number;
  reason?: string;
}

/** iputils' time: 3 significant digits below 100 ms, whole ms above. */
export function fmtRtt(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export interface PingSummary {
  transmitted: number;
  received: number;
  errors: number;
  lossPct: number;
  timeMs: number;
  rttMs: { min: number; avg: number; max: number; mdev: number } | null;
}

export function summarize(echoes: readonly Echo[], timeMs: number): PingSummary {
  const rtts = echoes.filter((e) => e.ok).map((e) => e.rttMs ?? 0);
  const n = echoes.length;
  const errors = echoes.filter((e) => !e.ok && e.reason !== "timeout").length;
  let rttMs: PingSummary["rttMs"] = null;
  if (rtts.length > 0) {
    const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
    const sq = rtts.reduce((a, b) => a + b * b, 0) / rtts.length;
    rttMs = {
      min: Math.min(...rtts),
      avg,
      max: Math.max(...rtts),
      mdev: Math.sqrt(Math.max(0, sq - avg * avg)),
    };
  }
  const lossPct = n === 0 ? 0 : Math.round(((n - rtts.length) * 100 * 1e4) / n) / 1e4;
  return { transmitted: n, received: rtts.length, errors, lossPct, timeMs: Math.round(timeMs), rttMs };
}

/** iputils' closing lines. */
export function summaryLines(to: string, s: PingSummary): string[] {
  const errs = s.errors > 0 ? `, +${s.errors} errors` : "";
  const out = [
    `--- ${to} ping statistics ---`,
    `${s.transmitted} packets transmitted, ${s.received} received${errs}, ${s.lossPct}% packet loss, time ${s.timeMs}ms`,
  ];
  if (s.rttMs !== null) {
    const r = s.rttMs;
    out.push(`rtt min/avg/max/mdev = ${[r.min, r.avg, r.max, r.mdev].map((x) => x.toFixed(3)).join("/")} ms`);
  }
  return out;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1)
    throw new InvalidArgumentError(`expected a count >= 1, got ${JSON.stringify(v)}`);
  return n;
}

function seconds(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0.01 || n > 60)
    throw new InvalidArgumentError(`expected seconds between 0.01 and 60, got ${JSON.stringify(v)}`);
  return n;
}

export function pingCommand(program: Command): void {
  program
    .command("ping")
    .description("ping an address from inside a guest's stack of a running host, as ping(8)")
    .argument("<domain>", "the guest's name or id")
    .argument("<ip>", "the address to ping (a.b.c.d)")
    .option("-c, --count <n>", "stop after N echo requests (default: until interrupted)", positiveInt)
    .option("-i, --interval <secs>", "seconds between echo requests", seconds, 1)
    .option("-W, --timeout <secs>", "seconds to wait for each reply", seconds, 1)
    .option(
      "--control <path>",
      `the host's control socket (default ${defaultControlSocket()})`,
      socketPathArg,
    )
    .option("--json", "print the replies and the statistics as JSON at the end")
    .addHelpText("after", ENV_HELP.control)
    .action(async (domain: string, ip: string, o: PingOpts) => {
      if (typeof parseIpv4(ip) !== "number")
        throw usage(`bad address ${JSON.stringify(ip)}`, "expected a.b.c.d");
      const path = o.control ?? defaultControlSocket();
      const say = (line: string): void => {
        if (o.json !== true) process.stdout.write(`${line}\n`);
      };
      const echoes: Echo[] = [];
      let from: string | null = null;
      let stop = false;
      let wake: (() => void) | null = null;
      const onInt = (): void => {
        stop = true;
        wake?.();
      };
      process.on("SIGINT", onInt);
      const start = performance.now();
      try {
        for (let seq = 1; !stop && (o.count === undefined || seq <= o.count); seq++) {
          const sent = performance.now();
          const r = await controlRequest(path, {
            op: "ping",
            domain,
            ip,
            timeoutMs: Math.round(o.timeout * 1000),
          });
          if (from === null) {
            from = String(r.from);
            say(`PING ${ip} (${ip}) from ${from} ${String(r.domain)}: 56(84) bytes of data.`);
          }
          const e: Echo =
            r.reply === true
              ? { seq, ok: true, rttMs: Number(r.rttMs), ttl: Number(r.ttl), dataLen: Number(r.dataLen) }
              : { seq, ok: false, reason: String(r.reason) };
          echoes.push(e);
          if (e.ok)
            say(
              `${(e.dataLen ?? 56) + 8} bytes from ${ip}: icmp_seq=${seq} ttl=${e.ttl} time=${fmtRtt(e.rttMs!)} ms`,
            );
          else if (e.reason !== "timeout") say(`From ${from} icmp_seq=${seq} ${e.reason}`);
          if (stop || (o.count !== undefined && seq >= o.count)) break;
          const left = o.interval * 1000 - (performance.now() - sent);
          if (left > 0)
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, left);
              wake = () => {
                clearTimeout(t);
                resolve();
              };
            });
          wake = null;
        }
      } finally {
        process.off("SIGINT", onInt);
      }
      const s = summarize(echoes, performance.now() - start);
      if (o.json === true)
        process.stdout.write(`${JSON.stringify({ domain, from, to: ip, ...s, replies: echoes }, null, 2)}\n`);
      else process.stdout.write(`\n${summaryLines(ip, s).join("\n")}\n`);
      if (s.received === 0) process.exitCode = 1;
    });
}
