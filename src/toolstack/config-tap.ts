/**
 * The `tap` variant of a bridge's uplinks: a Linux tap device on the switch
 * (src/vale/tap-port.ts), opened by a launcher (scripts/pvnet-tap) because Node cannot call
 * TUNSETIFF. In a host file:
 *
 *   bridges:
 *     vale0:
 *       uplinks:
 *         - tap: { name: tap0 }          # fd from PVNET_TAP_FDS, which the launcher sets
 *         - tap: { name: tap1, fd: 5 }   # or an inherited descriptor named outright
 */

/** Linux interface names: at most IFNAMSIZ - 1 characters, no '/' or spaces. */
export const TAP_NAME_PATTERN = "^[A-Za-z0-9_.-]{1,15}$";
/** Where the launcher lists the descriptors it opened: `NAME=FD,NAME=FD`. */
export const TAP_FDS_ENV = "PVNET_TAP_FDS";

/** A list entry with a `tap` key is checked as this; any other as the VXLAN uplink. */
export const TAP_UPLINK_SCHEMA = {
  type: "object",
  required: ["tap"],
  additionalProperties: false,
  expected: "a mapping with one key, tap (or a VXLAN uplink)",
  properties: {
    tap: {
      type: "object",
      required: ["name"],
      additionalProperties: false,
      expected: "a mapping with name and optionally fd",
      properties: {
        name: {
          type: "string",
          pattern: TAP_NAME_PATTERN,
          expected: "the tap's interface name: 1-15 letters, digits, '_', '.' or '-'",
        },
        fd: {
          type: "integer",
          minimum: 3,
          maximum: 65535,
          expected: "an open file descriptor of the tap, 3 or above (default: from PVNET_TAP_FDS)",
        },
      },
    },
  },
} as const;

/** A bridge's tap uplink as the host runs it. */
export interface TapUplink {
  readonly name: string;
  /** The descriptor named in the file; undefined: the launcher's (PVNET_TAP_FDS). */
  readonly fd: number | undefined;
}

/** Whether a checked uplinks entry is the tap variant. */
export function isTapEntry(u: unknown): u is { tap: { name: string; fd?: number } } {
  return typeof u === "object" && u !== null && "tap" in u;
}

/** The descriptor for tap `name`: the one given, else the launcher's; or why there is none. */
export function tapFd(t: TapUplink, env: NodeJS.ProcessEnv = process.env): number | string {
  if (t.fd !== undefined) return t.fd;
  const list = env[TAP_FDS_ENV] ?? "";
  for (const pair of list.split(",")) {
    const [name, fd] = pair.split("=");
    if (name === t.name && fd !== undefined && /^\d+$/.test(fd)) return Number(fd);
  }
  return `tap ${t.name}: no file descriptor (start pvnet through scripts/pvnet-tap ${t.name} -- ..., or give fd:)`;
}
