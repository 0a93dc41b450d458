/**
 * What each program in examples/ must print. Shared by the examples test (run from the
 * repository) and the pack check (run from a tarball installed in a scratch project).
 */
export interface ExampleCase {
  /** File name under examples/ without extension. */
  name: string;
  /** Every pattern must match the program's stdout. */
  expect: RegExp[];
}

export const EXAMPLES: readonly ExampleCase[] = [
  { name: "ring-pair", expect: [/^1000 requests answered over a 256-slot ring, 1000 doubled$/m] },
  {
    name: "xenstore-client",
    expect: [
      /^read \/local\/domain\/0\/backend\/vif\/1\/0\/mac = 00:16:3e:00:00:01$/m,
      /^ls \/local\/domain\/0\/backend\/vif\/1\/0 = mac state$/m,
      /^perms \/local\/domain\/0\/backend\/vif\/1\/0 = n0 r1$/m,
      /^watch fired 2 times; state is now 2$/m,
    ],
  },
  { name: "netmap-pipe", expect: [/^pipe: 20000 packets sent, 20000 received in order by another thread/m] },
  {
    name: "vale-switch",
    expect: [/b got 1, c got 1 \(flooded\)$/m, /a got 02:00:00:00:00:0b>02:00:00:00:00:0a, c got 0$/m],
  },
  {
    name: "own-guest",
    expect: [
      /^mine \(00:16:3e:[0-9a-f:]{8}, mtu 1500\): 10\.0\.0\.1 answered ping in \d+\.\d\d ms; [1-9]\d* frames received$/m,
    ],
  },
  {
    name: "custom-backend",
    expect: [
      /^ping a:0 -> 10\.0\.0\.2 answered through the custom backend$/m,
      /^ping b:0 -> 10\.0\.0\.1 answered through the custom backend$/m,
      /^capture: \d+ frames \(ARP [1-9]\d*, ICMP [1-9]\d*, UDP \d+, other 0\)$/m,
    ],
  },
  {
    name: "yaml-host",
    expect: [
      /^domain 0 Domain-0: running$/m,
      /^vif1\.0 web 192\.168\.7\.10\/24: frontend Connected, backend Connected, ring order 0$/m,
      /^vif2\.0 client 192\.168\.7\.20\/24: frontend Connected, backend Connected, ring order 1$/m,
      /^ping client:0 -> 192\.168\.7\.10: answered$/m,
      /^ping web:0 -> 192\.168\.7\.20: answered$/m,
      /^host shut down$/m,
    ],
  },
];

/** The example the README shows in full as its library example. */
export const README_EXAMPLE = "ring-pair";

/** The fenced TypeScript block under the README's "As a library" heading. */
export function readmeLibraryExample(readme: string): string | undefined {
  const at = readme.indexOf("\n## As a library");
  if (at < 0) return undefined;
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  return m?.[1];
}

export interface Ran {
  code: number | null;
  signal: string | null;
  out: string;
  err: string;
  ms: number;
}

/**
 * Runs `node [nodeArgs] file [args]` in `cwd`, killing it after `timeoutMs` (a program
 * that never exits fails).
 */
export async function runNode(
  file: string,
  cwd: string,
  timeoutMs: number,
  args: string[] = [],
  nodeArgs: string[] = [],
): Promise<Ran> {
  const { spawn } = await import("node:child_process");
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, file, ...args], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err, ms: performance.now() - t0 });
    }),
  );
}
