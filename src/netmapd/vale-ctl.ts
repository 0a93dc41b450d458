/**
 * vale-ctl's command line (netmap's apps/vale-ctl, getopt "d:a:h:g:l:n:r:C:m:"): one
 * request per invocation, the last action option winning as in the original. `-l` alone,
 * or no arguments, lists every port. Polling threads (-p/-P) and shared memory regions
 * (-m) have no meaning here and are refused with the reason.
 */

export type ValeCtlCmd =
  | { op: "attach"; name: string; host: boolean }
  | { op: "detach"; name: string }
  | { op: "newif"; name: string; slots: number }
  | { op: "delif"; name: string }
  | { op: "list"; name: string | null }
  | { op: "info"; name: string };

/** netmap's largest VALE ring (NM_BDG_MAXSLOTS). */
export const VALE_MAX_SLOTS = 4096;
export const VALE_DEFAULT_SLOTS = 1024;

export const VALE_CTL_USAGE = [
  "Usage: pvnet vale-ctl [-a|-h|-d valeX:IF] [-n|-r IF [-C slots]] [-l [valeX:IF]] [-g IF]",
  "\t-g interface\tinterface name to get info",
  "\t-d interface\tinterface name to be detached",
  "\t-a interface\tinterface name to be attached",
  "\t-h interface\tinterface name to be attached with the host stack",
  "\t-n interface\tinterface name to be created",
  "\t-r interface\tinterface name to be deleted",
  "\t-l list all or specified bridge's interfaces (default)",
  "\t-C string ring/slot setting of an interface creating by -n",
].join("\n");

export function parseValeCtlArgs(argv: readonly string[]): ValeCtlCmd | { error: string } {
  let cmd: ValeCtlCmd = { op: "list", name: null };
  let conf: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    // -l takes its name only when one follows (the original lists everything without one).
    if (flag === "-l") {
      const next = argv[i + 1];
      const name = next !== undefined && !next.startsWith("-") ? next : null;
      if (name !== null) i++;
      cmd = { op: "list", name };
      continue;
    }
    if (!/^-[dahgnrCmpP]$/.test(flag)) {
      if (!flag.startsWith("-")) return { error: `unexpected argument "${flag}"` };
      return { error: `${flag}: unknown option (supported: -a -h -d -n -r -l -g -C)` };
    }
    const v = argv[++i];
    if (v === undefined || v === "") return { error: `${flag}: expected an interface name` };
    switch (flag) {
      case "-a":
      case "-h":
        cmd = { op: "attach", name: v, host: flag === "-h" };
        break;
      case "-d":
        cmd = { op: "detach", name: v };
        break;
      case "-n":
        cmd = { op: "newif", name: v, slots: VALE_DEFAULT_SLOTS };
        break;
      case "-r":
        cmd = { op: "delif", name: v };
        break;
      case "-g":
        cmd = { op: "info", name: v };
        break;
      case "-C":
        conf = v;
        break;
      case "-m":
        return { error: "-m: every pvnet interface has a memory region of its own (no shared memids)" };
      default:
        return {
          error: `${flag}: no polling threads to start or stop: the switch serves attached interfaces as frames arrive`,
        };
    }
  }
  if (conf !== null) {
    if (cmd.op !== "newif") return { error: "-C: only configures an interface created with -n" };
    const slots = parseConf(conf);
    if (typeof slots !== "number") return slots;
    cmd.slots = slots;
  }
  return cmd;
}

/** -C tx_slots[,rx_slots[,tx_rings[,rx_rings]]]: one ring pair of equal sizes here. */
function parseConf(conf: string): number | { error: string } {
  const parts = conf.split(",").map((p) => Number(p));
  const [tx, rx = tx, txr = 1, rxr = txr] = parts;
  if (parts.length > 4 || parts.some((n) => !Number.isInteger(n) || n < 0))
    return { error: `-C: expected tx_slots[,rx_slots[,tx_rings[,rx_rings]]], got "${conf}"` };
  if (tx < 2 || tx > VALE_MAX_SLOTS)
    return { error: `-C: tx_slots must be from 2 to ${VALE_MAX_SLOTS}, got ${tx}` };
  if (rx !== tx) return { error: `-C: rx_slots must equal tx_slots (${tx}) here, got ${rx}` };
  if (txr > 1 || rxr > 1) return { error: `-C: one ring pair per interface here, got ${txr},${rxr}` };
  return tx;
}
