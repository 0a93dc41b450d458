/**
 * Where netmapd listens unless told, in this order: $PVNET_NETMAPD_SOCKET; else
 * $PVNET_RUNDIR/netmapd.sock; else, for root, /run/pvnet/netmapd.sock; for any other user
 * $XDG_RUNTIME_DIR/pvnet/netmapd.sock (the per-user runtime directory of the XDG base
 * directory convention), or /tmp/pvnet-UID/netmapd.sock where no XDG_RUNTIME_DIR is set.
 */
import { tmpdir } from "node:os";

export function defaultNetmapdSocket(
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid?.() ?? 0,
): string {
  if (env.PVNET_NETMAPD_SOCKET) return env.PVNET_NETMAPD_SOCKET;
  return `${defaultRunDir(env, uid)}/netmapd.sock`;
}

export function defaultRunDir(
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid?.() ?? 0,
): string {
  if (env.PVNET_RUNDIR) return env.PVNET_RUNDIR;
  if (uid === 0) return "/run/pvnet";
  if (env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/pvnet`;
  return `${tmpdir()}/pvnet-${uid}`;
}
