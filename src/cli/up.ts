/**
 * `pvnet up [host.yaml]`: boots a host (the embedded default without a file) and shows it
 * live until Ctrl-C or `--for`; `--json` prints the final status instead of the view.
 */
import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";
import { defaultNetmapdSocket } from "../netmapd/socket-path.js";
import type { Host, HostStatus } from "../toolstack/host.js";
import { DEFAULT_WEB_ADDR, parseWebAddr, type WebAddr } from "../web/addr.js";
import { defaultControlSocket } from "./control-client.js";
import { withSocketHint } from "./netmapd.js";
import { exitAfterSignal, shutdownSignals } from "./signals.js";
import { socketPathArg, usage } from "./style.js";
import type { Sample } from "./up-view.js";
import { hostXsSocket } from "./xs-locate.js";

export interface UpOpts {
  for?: string;
  json?: boolean;
  xenstoreSocket?: string;
  xenstoreTrace?: string;
  control?: string;
  netmapdSocket?: string;
  pingCount: string;
  pingInterval: string;
  /** `--web [ADDR:PORT]`: true when given without a value. */
  web?: string | true;
}

export interface UpRun {
  file: string | undefined;
  seconds: number;
  json: boolean;
  socketPath: string;
  tracePath: string | null;
  controlPath: string;
  /** Where Domain-0 answers vale-ctl and pkt-gen for the bridges. */
  netmapdPath: string;
  pingCount: number;
  pingIntervalMs: number;
  /** Where the web view listens; null: no web view. */
  web: WebAddr | null;
}

/** Where `pvnet up`'s xenstored listens unless told: next to netmapd's socket. */
export function defaultUpSocket(): string {
  return hostXsSocket();
}

function intOpt(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < min || n > max)
    throw usage(`--${name} ${JSON.stringify(v)} is not allowed`, `an integer from ${min} to ${max}`);
  return n;
}

/** The run's settings from the command line; throws a usage error naming the option. */
export function parseUpOpts(file: string | undefined, o: UpOpts): UpRun {
  let seconds = Number.POSITIVE_INFINITY;
  if (o.for !== undefined) {
    seconds = Number(o.for);
    if (o.for.trim() === "" || !Number.isFinite(seconds) || seconds <= 0 || seconds > 86400)
      throw usage(
        `--for ${JSON.stringify(o.for)} is not allowed`,
        "seconds, more than 0 and at most 86400; fractions allowed",
      );
  }
  let web: WebAddr | null = null;
  if (o.web !== undefined) {
    const a = parseWebAddr(o.web === true ? DEFAULT_WEB_ADDR : o.web);
    if (typeof a === "string") throw usage(`--web ${a}`, "ADDR:PORT, PORT or ADDR (default 127.0.0.1:8080)");
    web = a;
  }
  if (o.xenstoreTrace === "") throw usage("--xenstore-trace: empty path", "a file to append the trace to");
  return {
    file,
    seconds,
    json: o.json === true,
    socketPath: o.xenstoreSocket ?? defaultUpSocket(),
    tracePath: o.xenstoreTrace ?? null,
    controlPath: o.control ?? defaultControlSocket(),
    netmapdPath: o.netmapdSocket ?? defaultNetmapdSocket(),
    pingCount: intOpt("ping-count", o.pingCount, 0, 1_000_000),
    pingIntervalMs: intOpt("ping-interval", o.pingInterval, 10, 3_600_000),
    web,
  };
}

export async function runUp(run: UpRun): Promise<void> {
  // Signals are ours from the start and for good (signals.ts): one while the modules load
  // or the host boots shuts down as soon as the host is up; more change nothing.
  const signals = shutdownSignals();
  const { loadHostConfig, defaultHostConfig } = await import("../toolstack/config.js");
  const { Host } = await import("../toolstack/host.js");
  const { ControlServer } = await import("../toolstack/control.js");
  const { viewLines, viewHeader, rateBase, statusJson } = await import("./up-view.js");
  const config = run.file === undefined ? defaultHostConfig() : loadHostConfig(run.file);
  // Human lines go to stdout, unless stdout carries the JSON.
  const say = (s: string): boolean => (run.json ? process.stderr.write(s) : process.stdout.write(s));
  const logLines: string[] = [];
  const tty = !run.json && process.stdout.isTTY === true;
  const log = (line: string): void => {
    if (tty) {
      logLines.push(line);
      if (logLines.length > 5) logLines.shift();
    } else process.stderr.write(`pvnet up: ${line}\n`);
  };
  // The commands' socket (pvnet list, destroy...), taken first: a host already running
  // there is refused before anything boots.
  const control = await ControlServer.listen(run.controlPath).catch((e: unknown) => {
    throw e instanceof PvnetError && e.code === "EADDRINUSE"
      ? new PvnetError(e.code, `${e.message} (another pvnet up: stop it, or give this one --control PATH)`)
      : e;
  });
  // The web view's port is taken before boot too; its xenstore watch starts once Domain-0
  // runs, so it sees every guest's handshake from the first write.
  const web =
    run.web === null
      ? null
      : await (await import("../web/live.js")).WebLive.listen(run.web).catch(async (e: unknown) => {
          await control.close();
          throw e;
        });
  const host: Host = await Host.boot(config, {
    socketPath: run.socketPath,
    tracePath: run.tracePath,
    ping: { count: run.pingCount, intervalMs: run.pingIntervalMs },
    netmapdSocket: run.netmapdPath,
    log,
    ...(web === null ? {} : { xsChanges: true, onDom0Ready: (m) => web.watch(run.socketPath, m) }),
  }).catch(async (e: unknown) => {
    await web?.close();
    await control.close();
    throw withSocketHint(e);
  });
  control.serve(host);
  web?.serve(host);
  say(
    `pvnet up: ${config.domains.length} domains from ${run.file ?? "the default host"}; ` +
      `xenstore at ${host.socketPath} (XENSTORED_PATH=${host.socketPath} xenstore-ls -p /local/domain)` +
      `${run.tracePath === null ? "" : `; trace in ${run.tracePath}`}\n` +
      `pvnet up: control at ${control.path} (pvnet list, network-list, create, destroy, backend-restart, ping, top)\n` +
      (host.netmapdPath !== null
        ? `pvnet up: switches at ${host.netmapdPath} (pvnet vale-ctl -l, pvnet pkt-gen -i vale0:probe ...)\n`
        : `pvnet up: ${host.netmapdNote ?? "switches not served"}\n`) +
      `${web === null ? "" : `pvnet up: web view at ${web.url}\n`}`,
  );
  const t0 = performance.now();
  // The last few samples: rates are measured over at least half a second (rateBase).
  const history: Sample[] = [];
  let drawn = 0;
  const draw = (final: boolean): void => {
    const cur: Sample = { atMs: performance.now(), status: host.status() };
    const lines = viewLines(cur, rateBase(cur, history), viewHeader((cur.atMs - t0) / 1000, final));
    history.push(cur);
    if (history.length > 3) history.shift();
    if (tty) {
      // Back to the top of the last view, then each line cleared as it is rewritten.
      const all = [...lines, ...(logLines.length > 0 ? ["", ...logLines] : [])];
      let out = drawn > 0 ? `\x1b[${drawn}A` : "";
      for (const l of all) out += `\x1b[2K${l}\n`;
      out += "\x1b[J";
      process.stdout.write(out);
      drawn = all.length;
    } else if (!run.json) process.stdout.write(`${lines.join("\n")}\n`);
  };
  await new Promise<void>((resolve) => {
    const view = run.json ? undefined : setInterval(() => draw(false), 1000);
    const end = Number.isFinite(run.seconds) ? setTimeout(() => finish(), run.seconds * 1000) : undefined;
    const finish = (): void => {
      clearInterval(view);
      clearTimeout(end);
      resolve();
    };
    void signals.first.then(finish);
  });
  const signal = signals.received;
  if (!run.json) draw(true);
  const final: HostStatus = host.status();
  if (signal !== null) say(`pvnet up: ${signal}, shutting down\n`);
  await web?.close();
  await control.close();
  await host.shutdown();
  if (run.json)
    process.stdout.write(
      `${JSON.stringify(statusJson(final, { seconds: (performance.now() - t0) / 1000 }), null, 2)}\n`,
    );
  else say("pvnet up: stopped\n");
  // A signal during a --for run's shutdown counts too: its window is the same.
  if (signals.received !== null) exitAfterSignal();
}

export function upCommand(program: Command): void {
  program
    .command("up")
    .description("boot a host: Domain-0, guests, their vifs on VALE switches; live view (Ctrl-C to stop)")
    .argument("[host.yaml]", "the host file (default: the embedded one, see pvnet config default)")
    .option("--for <seconds>", "stop after this many seconds (fractions allowed)")
    .option("--json", "print the final status as JSON (domains, vifs, pings) instead of the view")
    .option(
      "--xenstore-socket <path>",
      `xenstored's unix socket (default ${defaultUpSocket()})`,
      socketPathArg,
    )
    .option(
      "--control <path>",
      `the commands' control socket (default ${defaultControlSocket()})`,
      socketPathArg,
    )
    .option(
      "--web [addr:port]",
      `serve a live web view of the host (default ${DEFAULT_WEB_ADDR}; port 0: any free port)`,
    )
    .option(
      "--netmapd-socket <path>",
      `where the switches answer pvnet vale-ctl and pkt-gen, as netmapd's (default ${defaultNetmapdSocket()})`,
      socketPathArg,
    )
    .option("--xenstore-trace <file>", "append every xenstore request and reply to FILE, one line each")
    .option(
      "--ping-count <n>",
      "rounds of ping and UDP echo each guest sends its peers (0: until stopped)",
      "0",
    )
    .option("--ping-interval <ms>", "milliseconds between rounds", "1000")
    .addHelpText(
      "after",
      [
        "",
        "The socket serves Debian's xenstore-utils as on a Xen host:",
        "  XENSTORED_PATH=PATH xenstore-ls -p /local/domain",
        "A socket a live daemon answers on is refused; a stale one is replaced.",
        "",
        "From other shells, through the control socket (--control; the same default for both):",
        "  pvnet list, pvnet network-list DOMAIN, pvnet create --name NAME, pvnet destroy DOMAIN,",
        "  pvnet backend-restart, pvnet ping DOMAIN IP, pvnet top -b",
        "",
        "The bridges answer netmap's tools as a netmapd does (--netmapd-socket; the same default):",
        "  pvnet vale-ctl -l lists their ports (the vifs too); pvnet pkt-gen -i vale0:probe ...",
        "A netmapd already listening there keeps the socket; the host says so and goes on.",
      ].join("\n"),
    )
    .action(async (file: string | undefined, o: UpOpts) => {
      await runUp(parseUpOpts(file, o));
    });
}
