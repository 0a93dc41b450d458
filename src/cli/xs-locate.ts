/**
 * Which xenstored `pvnet xenstore ...` talks to when not told: $XENSTORED_PATH, as
 * libxenstore reads it; else a running pvnet host's (`pvnet up` listens in its run
 * directory, next to its control socket); else libxenstore's default
 * ($XENSTORED_RUNDIR/socket, /var/run/xenstored/socket), where C xenstored listens.
 */
import { lstatSync } from "node:fs";
import { connect } from "node:net";
import { defaultRunDir } from "../netmapd/socket-path.js";
import { defaultXsSocketPath } from "../xenstore/transport/socket-client.js";

/** The socket `pvnet up` gives its xenstored unless told (--xenstore-socket). */
export function hostXsSocket(env: NodeJS.ProcessEnv = process.env): string {
  return `${defaultRunDir(env)}/xenstored.sock`;
}

export interface XsSocketChoice {
  readonly path: string;
  /** How it was chosen: the environment, a running pvnet host, or libxenstore's default. */
  readonly via: "XENSTORED_PATH" | "pvnet host" | "default";
  /** Where a running host was looked for (said when nothing answers anywhere). */
  readonly hostPath: string;
}

/** How long a connect to the host's socket may take before the host counts as not there. */
const PROBE_MS = 2000;

export async function locateXsSocket(env: NodeJS.ProcessEnv = process.env): Promise<XsSocketChoice> {
  const hostPath = hostXsSocket(env);
  if (env.XENSTORED_PATH) return { path: env.XENSTORED_PATH, via: "XENSTORED_PATH", hostPath };
  if (await answers(hostPath)) return { path: hostPath, via: "pvnet host", hostPath };
  return { path: defaultXsSocketPath(env), via: "default", hostPath };
}

/** Whether `path` is a socket something accepts connections on (a socket left by a crash is not). */
function answers(path: string): Promise<boolean> {
  try {
    if (!lstatSync(path).isSocket()) return Promise.resolve(false);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), PROBE_MS);
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}
