/**
 * xl's device commands and the guest's UDP echo against a running host, each its own
 * process talking to `pvnet up` over the control socket:
 * `pvnet network-attach DOMAIN [mac=M] [bridge=B] [ip=A/N] [script=PATH]`,
 * `pvnet network-detach DOMAIN DEVID|MAC` and
 * `pvnet udp-echo DOMAIN --listen PORT | DOMAIN IP [PORT] [-c N]`.
 */
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { UDP_ECHO_MAX } from "../toolstack/guest-ops.js";
import { parseIpv4 } from "../wire/net/ipv4.js";
import { controlRequest, defaultControlSocket } from "./control-client.js";
import { ENV_HELP } from "./env-help.js";
import { fmtRtt } from "./ping.js";
import { socketPathArg, usage } from "./style.js";

interface CtlOpts {
  control?: string;
  json?: boolean;
}

const ATTACH_KEYS = ["mac", "bridge", "ip", "script"] as const;

/**
 * xl's `key=value` device words as a request's fields. `ip` without a prefix takes the
 * host's (the subnet of its bridge); a relative `script` is taken from the working directory.
 */
export function attachFields(words: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf("=");
    const k = eq < 0 ? w : w.slice(0, eq);
    if (eq < 0 || !(ATTACH_KEYS as readonly string[]).includes(k))
      throw usage(
        `bad device setting ${JSON.stringify(w)}`,
        `expected ${ATTACH_KEYS.map((x) => `${x}=...`).join(", ")}`,
      );
    const v = w.slice(eq + 1);
    if (v === "") throw usage(`${k}= is empty`, `expected ${k}=VALUE`);
    if (k in out) throw usage(`${k}= given twice`);
    out[k] = k === "script" ? resolve(v) : v;
  }
  return out;
}

function ask(o: CtlOpts, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  return controlRequest(o.control ?? defaultControlSocket(), req);
}

function json(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

function common(cmd: Command): Command {
  return cmd
    .option(
      "--control <path>",
      `the host's control socket (default ${defaultControlSocket()})`,
      socketPathArg,
    )
    .option("--json", "print the reply as JSON")
    .addHelpText("after", ENV_HELP.control);
}

function intIn(lo: number, hi: number, what: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < lo || n > hi)
      throw new InvalidArgumentError(`expected ${what} ${lo}..${hi}, got ${JSON.stringify(v)}`);
    return n;
  };
}

function seconds(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0.01 || n > 60)
    throw new InvalidArgumentError(`expected seconds between 0.01 and 60, got ${JSON.stringify(v)}`);
  return n;
}

export function xlOpsCommands(program: Command): void {
  common(
    program
      .command("network-attach")
      .description("hot-plug a vif into a running guest, as xl network-attach; waits for it to connect")
      .argument("<domain>", "the guest's name or id")
      .argument("[settings...]", "mac=M bridge=B (default vale0) ip=A.B.C.D/N script=PATH")
      .addHelpText(
        "after",
        "\nip= gives the guest's stack an address on the new vif (none: no stack); without /N it takes\nthe prefix of the bridge's subnet. script= runs PATH online/offline as Xen's vif hotplug script.",
      ),
  ).action(async (domain: string, words: string[], o: CtlOpts) => {
    const fields = attachFields(words);
    if (fields.ip !== undefined && typeof parseIpv4(fields.ip.split("/")[0]!) !== "number")
      throw usage(`bad address ${JSON.stringify(fields.ip)}`, "expected ip=a.b.c.d or ip=a.b.c.d/N");
    const r = await ask(o, { op: "network-attach", domain, ...fields });
    const out = {
      domain: r.domain,
      id: r.id,
      devid: r.devid,
      vif: r.vif,
      mac: r.mac,
      ip: r.ip,
      bridge: r.bridge,
    };
    if (o.json === true) json(out);
    else
      process.stdout.write(
        `attached ${String(r.vif)} to ${String(r.domain)}: ${String(r.mac)}${r.ip === null ? "" : ` ${String(r.ip)}`} on ${String(r.bridge)}, Connected\n`,
      );
  });

  common(
    program
      .command("network-detach")
      .description("take a vif away from a running guest, as xl network-detach")
      .argument("<domain>", "the guest's name or id")
      .argument("<device>", "the vif's devid (network-list's Idx) or its MAC"),
  ).action(async (domain: string, device: string, o: CtlOpts) => {
    const r = await ask(o, { op: "network-detach", domain, device });
    const out = { domain: r.domain, id: r.id, devid: r.devid, vif: r.vif, closed: r.closed };
    if (o.json === true) json(out);
    else
      process.stdout.write(
        `detached ${String(r.vif)} from ${String(r.domain)}${r.closed === true ? "" : " (its backend did not reach Closed: removed anyway)"}\n`,
      );
  });

  common(
    program
      .command("udp-echo")
      .description("UDP echo inside a guest's stack: send datagrams and time their echoes, or --listen")
      .argument("<domain>", "the guest's name or id")
      .argument("[ip]", "the address to send to (a.b.c.d)")
      .argument("[port]", "the port to send to (default 7, the echo service every guest runs)")
      .option(
        "--listen <port>",
        "start an echo server on PORT in each of the guest's stacks",
        intIn(1, 65535, "a port"),
      )
      .option("-c, --count <n>", "datagrams to send", intIn(1, 1_000_000, "a count"), 4)
      .option("-i, --interval <secs>", "seconds between datagrams", seconds, 1)
      .option("-W, --timeout <secs>", "seconds to wait for each echo", seconds, 1)
      .option("-s, --size <bytes>", "payload bytes", intIn(0, UDP_ECHO_MAX, "bytes"), 56),
  ).action(
    async (
      domain: string,
      ip: string | undefined,
      portArg: string | undefined,
      o: CtlOpts & { listen?: number; count: number; interval: number; timeout: number; size: number },
    ) => {
      if (o.listen !== undefined) {
        if (ip !== undefined) throw usage("--listen takes no address", "udp-echo DOMAIN --listen PORT");
        const r = await ask(o, { op: "udp-listen", domain, port: o.listen });
        if (o.json === true) json({ domain: r.domain, id: r.id, port: r.port, addresses: r.addresses });
        else
          process.stdout.write(
            `${String(r.domain)}: UDP echo on port ${String(r.port)} (${(r.addresses as string[]).join(", ")})\n`,
          );
        return;
      }
      if (ip === undefined)
        throw usage("no address", "udp-echo DOMAIN IP [PORT], or udp-echo DOMAIN --listen PORT");
      if (typeof parseIpv4(ip) !== "number")
        throw usage(`bad address ${JSON.stringify(ip)}`, "expected a.b.c.d");
      const port = portArg === undefined ? 7 : Number(portArg);
      if (!/^\d+$/.test(portArg ?? "7") || port < 1 || port > 65535)
        throw usage(`bad port ${JSON.stringify(portArg)}`, "expected 1..65535");
      await sendEchoes(o, domain, ip, port);
    },
  );
}

interface EchoRow {
  seq: number;
  ok: boolean;
  rttMs?: number;
  bytes?: number;
  reason?: string;
}

async function sendEchoes(
  o: CtlOpts & { count: number; interval: number; timeout: number; size: number },
  domain: string,
  ip: string,
  port: number,
): Promise<void> {
  const say = (line: string): void => {
    if (o.json !== true) process.stdout.write(`${line}\n`);
  };
  const rows: EchoRow[] = [];
  let from: string | null = null;
  let name = domain;
  const start = performance.now();
  for (let seq = 1; seq <= o.count; seq++) {
    const sent = performance.now();
    const r = await ask(o, {
      op: "udp-echo",
      domain,
      ip,
      port,
      size: o.size,
      timeoutMs: Math.round(o.timeout * 1000),
    });
    if (from === null) {
      from = String(r.from);
      name = String(r.domain);
      say(`UDP ECHO ${ip}:${port} from ${from} ${name}: ${o.size} bytes of data.`);
    }
    const row: EchoRow =
      r.reply === true
        ? { seq, ok: true, rttMs: Number(r.rttMs), bytes: Number(r.bytes) }
        : { seq, ok: false, reason: String(r.reason) };
    rows.push(row);
    say(
      row.ok
        ? `${row.bytes} bytes from ${ip}:${port}: seq=${seq} time=${fmtRtt(row.rttMs!)} ms`
        : `no echo from ${ip}:${port}: seq=${seq} ${row.reason}`,
    );
    const left = o.interval * 1000 - (performance.now() - sent);
    if (seq < o.count && left > 0) await new Promise((res) => setTimeout(res, left));
  }
  const rtts = rows.filter((r) => r.ok).map((r) => r.rttMs!);
  const stats = {
    sent: rows.length,
    received: rtts.length,
    lossPct: Math.round(((rows.length - rtts.length) * 1000) / rows.length) / 10,
    timeMs: Math.round(performance.now() - start),
    rttMs:
      rtts.length === 0
        ? null
        : {
            min: Math.min(...rtts),
            avg: rtts.reduce((a, b) => a + b, 0) / rtts.length,
            max: Math.max(...rtts),
          },
  };
  if (o.json === true) json({ domain: name, from, to: ip, port, size: o.size, ...stats, echoes: rows });
  else {
    process.stdout.write(
      `\n--- ${ip}:${port} udp-echo statistics ---\n${stats.sent} sent, ${stats.received} received, ${stats.lossPct}% loss, time ${stats.timeMs}ms\n`,
    );
    if (stats.rttMs !== null)
      process.stdout.write(
        `rtt min/avg/max = ${[stats.rttMs.min, stats.rttMs.avg, stats.rttMs.max].map((x) => x.toFixed(3)).join("/")} ms\n`,
      );
  }
  if (stats.received === 0) process.exitCode = 1;
}
