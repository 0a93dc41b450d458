/**
 * Network namespaces and veth pairs for the uplink tests: why they cannot run here (not
 * root, no `ip`, no netns), and commands that fail loudly with their stderr.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";

/** Why namespaces cannot be made here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "needs root to make network namespaces";
  try {
    execFileSync("ip", ["-V"], { stdio: "ignore" });
  } catch {
    return "needs ip (iproute2)";
  }
  const probe = `pvprobe${process.pid}`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "pipe" });
    execFileSync("ip", ["netns", "del", probe], { stdio: "pipe" });
  } catch (e) {
    return `cannot make a network namespace: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  }
  return null;
}

/** Whether `cmd` runs (`cmd --version` or the args given). */
export function hasCommand(cmd: string, args = ["--version"]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Runs `ip ARGS` (or, with `ns`, inside that namespace); throws with its stderr. */
export function ip(args: string, ns?: string): string {
  const argv = args.split(/\s+/).filter((a) => a !== "");
  const full = ns === undefined ? argv : ["netns", "exec", ns, "ip", ...argv];
  try {
    return execFileSync("ip", full, { stdio: "pipe", encoding: "utf8" });
  } catch (e) {
    const err = e as { stderr?: string };
    throw new Error(`ip ${full.join(" ")}: ${String(err.stderr ?? e).trim()}`);
  }
}

/** Runs a command in namespace `ns` to its end: exit code and output. */
export function inNs(
  ns: string,
  cmd: string[],
  timeoutMs = 30_000,
  input?: string,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = execFile("ip", ["netns", "exec", ns, ...cmd], { timeout: timeoutMs }, (e, out, err) =>
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : -1, out, err }),
    );
    if (input !== undefined) p.stdin?.end(input);
  });
}

/** Starts a long-lived command in namespace `ns` (the caller kills it). */
export function spawnInNs(ns: string, cmd: string[]): ChildProcess {
  return spawn("ip", ["netns", "exec", ns, ...cmd], { stdio: ["ignore", "pipe", "pipe"] });
}

/** Removes namespaces and links, ignoring those already gone. */
export function cleanup(namespaces: string[], links: string[]): void {
  for (const n of namespaces)
    try {
      execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
    } catch {}
  for (const l of links)
    try {
      execFileSync("ip", ["link", "del", l], { stdio: "ignore" });
    } catch {}
}

/** A python3 UDP echo server on addr:port, for the kernel's side. */
export const PY_UDP_ECHO =
  "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((sys.argv[1],int(sys.argv[2])))\nprint('ready',flush=True)\nwhile True:\n d,a=s.recvfrom(65535)\n s.sendto(d,a)\n";

/** One datagram to addr:port and its echo from python3: prints `echo <bytes>` or exits 1. */
export const PY_UDP_SEND =
  "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(2)\nmsg=b'pvnet-vxlan-'+sys.argv[3].encode()\nfor i in range(5):\n s.sendto(msg,(sys.argv[1],int(sys.argv[2])))\n try:\n  d,a=s.recvfrom(65535)\n except socket.timeout:\n  continue\n if d==msg:\n  print('echo',len(d),a[0]);sys.exit(0)\nsys.exit(1)\n";
