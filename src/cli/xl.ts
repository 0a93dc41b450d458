/**
 * xl's commands for a running host, each its own process talking to `pvnet up` over the
 * control socket: `pvnet list`, `pvnet network-list DOMAIN`, `pvnet create FILE|--name NAME`,
 * `pvnet destroy DOMAIN` and
 * `pvnet backend-restart`. Each prints xl's table (or `--json`) and fails with one line.
 */
import type { Command } from "commander";
import { GUEST_NAME, GUEST_NAME_RULE, type ListRow, type NicRow, parseCidr } from "../toolstack/control.js";
import { controlRequest, defaultControlSocket } from "./control-client.js";
import { createFromFile } from "./create-file.js";
import { ENV_HELP } from "./env-help.js";
import { socketPathArg, usage } from "./style.js";

interface CtlOpts {
  control?: string;
  json?: boolean;
}

function ask(o: CtlOpts, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  return controlRequest(o.control ?? defaultControlSocket(), req);
}

function json(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/** `xl list`'s lines: "%-40s %5d %5lu %5d     %s  %8.1f". */
export function listLines(rows: readonly ListRow[]): string[] {
  const out = [`${"Name".padEnd(40)}    ID   Mem VCPUs\tState\tTime(s)`];
  for (const r of rows)
    out.push(
      `${r.name.padEnd(40)} ${String(r.id).padStart(5)} ${String(r.mem).padStart(5)} ${String(r.vcpus).padStart(5)}     ${r.state}  ${r.time.toFixed(1).padStart(8)}`,
    );
  return out;
}

/** `xl network-list`'s lines: "%-3d %-2d %-17s %-6d %-5d %-6d %5d/%-5d %-30s". */
export function nicLines(rows: readonly NicRow[]): string[] {
  const out = ["Idx BE Mac Addr.         handle state evt-ch   tx-/rx-ring-ref BE-path"];
  for (const r of rows)
    out.push(
      `${String(r.idx).padEnd(3)} ${String(r.backendId).padEnd(2)} ${r.mac.padEnd(17)} ${String(r.handle).padEnd(6)} ${String(r.state).padEnd(5)} ${String(r.evtch).padEnd(6)} ${String(r.txRingRef).padStart(5)}/${String(r.rxRingRef).padEnd(5)} ${r.backendPath}`,
    );
  return out;
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

export function xlCommands(program: Command): void {
  common(
    program
      .command("list")
      .description("list a running host's domains, as xl list (Name ID Mem VCPUs State Time)")
      .addHelpText(
        "after",
        "\nState: Domain-0 r-----, a running guest -b---- (it waits on events), starting ------,\nfailed ----c-, stopped ---s--, destroyed -----d. Time(s): how long its thread was busy.",
      ),
  ).action(async (o: CtlOpts) => {
    const r = await ask(o, { op: "list" });
    if (o.json === true) json(r.domains);
    else process.stdout.write(`${listLines(r.domains as ListRow[]).join("\n")}\n`);
  });
  common(
    program
      .command("network-list")
      .description("list a domain's vifs as xenstore holds them, as xl network-list")
      .argument("<domain>", "the domain's name or id"),
  ).action(async (domain: string, o: CtlOpts) => {
    const r = await ask(o, { op: "network-list", domain });
    if (o.json === true) json(r);
    else process.stdout.write(`${nicLines(r.nics as NicRow[]).join("\n")}\n`);
  });
  common(
    program
      .command("create")
      .description(
        "create a guest on a running host, as xl create: from a guest file, or --name with one vif; waits for its vifs to connect",
      )
      .argument("[file]", "a guest file (YAML: name, memory, vifs, as a guest entry of a host file)")
      .option("--name <name>", "the new guest's name (without a file: one vif, below)")
      .option("--ip <a.b.c.d/n>", "its stack's address and prefix (none: the vif carries no stack)")
      .option("--bridge <name>", "the bridge its vif joins", "vale0"),
  ).action(async (file: string | undefined, o: CtlOpts & { name?: string; ip?: string; bridge: string }) => {
    if (file !== undefined) return createFromFile(file, o);
    if (o.name === undefined)
      throw usage("no guest file and no --name", "pvnet create FILE, or pvnet create --name NAME");
    if (!GUEST_NAME.test(o.name))
      throw usage(`bad name ${JSON.stringify(o.name)}`, `expected ${GUEST_NAME_RULE}`);
    if (o.ip !== undefined && parseCidr(o.ip) === null)
      throw usage(`bad address ${JSON.stringify(o.ip)}`, "expected a.b.c.d/N, N 1-32");
    const r = await ask(o, { op: "create", name: o.name, ip: o.ip ?? null, bridge: o.bridge });
    if (o.json === true)
      json({ domain: r.domain, id: r.id, vif: r.vif, mac: r.mac, ip: r.ip, bridge: r.bridge });
    else
      process.stdout.write(
        `created ${String(r.domain)} (domain ${String(r.id)}): ${String(r.vif)} ${String(r.mac)}${r.ip === null ? "" : ` ${String(r.ip)}`} on ${String(r.bridge)}, Connected\n`,
      );
  });
  common(
    program
      .command("destroy")
      .description("destroy a guest at once, as xl destroy (Domain-0 stops only with the host)")
      .argument("<domain>", "the guest's name or id"),
  ).action(async (domain: string, o: CtlOpts) => {
    const r = await ask(o, { op: "destroy", domain });
    if (o.json === true) json(r);
    else process.stdout.write(`destroyed ${String(r.domain)} (domain ${String(r.id)})\n`);
  });
  common(
    program
      .command("vcpu-pin")
      .description(
        "bind a domain's vCPU (its thread) to CPUs, as xl vcpu-pin (a domain has one vCPU: 0, or all)",
      )
      .argument("<domain>", "the domain's name or id")
      .argument("<vcpu>", "0 or all")
      .argument("<cpus>", 'xl\'s CPU list: "3", "1-3", "0,2", "0-3,^1" or all'),
  ).action(async (domain: string, vcpu: string, cpus: string, o: CtlOpts) => {
    if (vcpu !== "0" && vcpu !== "all")
      throw usage(`bad vcpu ${JSON.stringify(vcpu)}`, "a pvnet domain has one vCPU: 0 (or all)");
    const r = await ask(o, { op: "vcpu-pin", domain, cpus });
    if (o.json === true) json({ domain: r.domain, id: r.id, cpus: r.cpus });
    else
      process.stdout.write(
        `${String(r.domain)} (domain ${String(r.id)}): vCPU 0 on CPUs ${String(r.cpus)}\n`,
      );
  });
  common(
    program
      .command("backend-restart")
      .description("restart Domain-0's netback; the guests' frontends reconnect (prints the outage)"),
  ).action(async (o: CtlOpts) => {
    const r = await ask(o, { op: "backend-restart" });
    if (o.json === true) json({ devices: r.devices, downMs: r.downMs, totalMs: r.totalMs });
    else
      process.stdout.write(
        `backend restarted: ${String(r.devices)} device${r.devices === 1 ? "" : "s"}; old backend gone in ${Number(r.downMs).toFixed(1)} ms, ` +
          `backend directories written again after ${Number(r.totalMs).toFixed(1)} ms\n`,
      );
  });
}
