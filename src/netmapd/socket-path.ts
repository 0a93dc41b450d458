/** Where netmapd listens unless told: $PVNET_NETMAPD_SOCKET, else ${PVNET_RUNDIR:-/run/pvnet}/netmapd.sock. */
export function defaultNetmapdSocket(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PVNET_NETMAPD_SOCKET) return env.PVNET_NETMAPD_SOCKET;
  return `${env.PVNET_RUNDIR || "/run/pvnet"}/netmapd.sock`;
}
