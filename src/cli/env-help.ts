/**
 * The environment variables pvnet reads, as the "Environment:" part of each command's
 * help (docs/environment.md says the same at more length).
 */

const NETMAPD = [
  ["PVNET_NETMAPD_SOCKET", "netmapd's control socket; --socket overrides it"],
  ["PVNET_RUNDIR", "directory of netmapd.sock when PVNET_NETMAPD_SOCKET is unset"],
  [
    "XDG_RUNTIME_DIR",
    "without PVNET_RUNDIR, a non-root user's netmapd.sock is in $XDG_RUNTIME_DIR/pvnet (root: /run/pvnet; no XDG_RUNTIME_DIR: /tmp/pvnet-UID)",
  ],
] as const;

const XENSTORED = [
  [
    "XENSTORED_PATH",
    "the xenstored socket, as libxenstore reads it; --socket overrides it. pvnet xenstore without it: a running pvnet host's ($PVNET_RUNDIR/xenstored.sock) when one answers, else the default below",
  ],
  [
    "XENSTORED_RUNDIR",
    "without XENSTORED_PATH the socket is $XENSTORED_RUNDIR/socket (default /var/run/xenstored/socket)",
  ],
] as const;

const CONTROL = [
  [
    "PVNET_RUNDIR",
    "directory of control.sock, the running host's control socket (next to netmapd.sock); --control overrides it",
  ],
  [
    "XDG_RUNTIME_DIR",
    "without PVNET_RUNDIR, a non-root user's control.sock is in $XDG_RUNTIME_DIR/pvnet (root: /run/pvnet; no XDG_RUNTIME_DIR: /tmp/pvnet-UID)",
  ],
] as const;

/** Help text's width: descriptions wrap to stay within it. */
const WIDTH = 88;

function section(vars: readonly (readonly [string, string])[]): string {
  const w = Math.max(...vars.map(([n]) => n.length));
  const lines = vars.map(([n, d]) => {
    const out: string[] = [];
    let line = `  ${n.padEnd(w)} `;
    for (const word of d.split(" ")) {
      if (line.length + 1 + word.length > WIDTH && line.trim() !== n) {
        out.push(line);
        line = " ".repeat(w + 3);
      }
      line += ` ${word}`;
    }
    out.push(line);
    return out.join("\n");
  });
  return `\nEnvironment:\n${lines.join("\n")}\n`;
}

export const ENV_HELP = {
  netmapd: section(NETMAPD),
  xenstored: section(XENSTORED),
  control: section(CONTROL),
  all: section([...NETMAPD, ...XENSTORED]),
};
