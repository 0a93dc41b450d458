/**
 * The toolstack's part of a vif, as libxl does it on a Xen host (xen-protocol.md §3.2):
 * create the frontend and backend directories with their keys and permissions in one
 * transaction, mark hotplug done the way the vif-bridge script does, and take the device
 * away again as `xl network-detach` does. Control plane only: nothing here touches a ring.
 *
 * Permissions are set explicitly on every node rather than left to inheritance, so that
 * `xenstore-ls -p` shows what a Xen host shows whatever the parent carried.
 */
import { PvnetError } from "../base/errors.js";
import type { XsClient, XsOps, XsPerm } from "../xenstore/client.js";
import {
  type HOTPLUG_CONNECTED,
  type HOTPLUG_ERROR,
  KEY_BACKEND,
  KEY_BACKEND_ID,
  KEY_BRIDGE,
  KEY_FRONTEND,
  KEY_FRONTEND_ID,
  KEY_HANDLE,
  KEY_HOTPLUG_STATUS,
  KEY_IP,
  KEY_MAC,
  KEY_MTU,
  KEY_ONLINE,
  KEY_RATE,
  KEY_SCRIPT,
  KEY_STATE,
  KEY_TRUSTED,
  KEY_TYPE,
  VIF_BRIDGE_SCRIPT,
  vifBackendPath,
  vifFrontendPath,
  vifLibxlPath,
} from "../xenstore/keys.js";
import { parseXenbusState, readOrUndefined, waitForState, XenbusState } from "../xenstore/xenbus.js";
import type { VifConfig } from "./config-types.js";

/** libxl's LIBXL_DEVICE_NIC_MTU_DEFAULT: always in the frontend, in the backend only when different. */
export const VIF_MTU_DEFAULT = 1500;
/** libxl_nic_type_to_string(LIBXL_NIC_TYPE_VIF): a PV-only nic. */
export const NIC_TYPE_VIF = "vif";

export interface VifDeviceSpec {
  readonly feDomid: number;
  readonly beDomid: number;
  readonly devid: number;
  readonly vif: VifConfig;
  /** Absolute path of the hotplug script; default VIF_BRIDGE_SCRIPT. */
  readonly script?: string;
  /** Default VIF_MTU_DEFAULT. */
  readonly mtu?: number;
  /** Whether the guest may trust the backend (netfront's `trusted`); libxl's default is true. */
  readonly trusted?: boolean;
  /**
   * Writes the backend directory and libxl's copy only, leaving a live frontend's directory
   * as it is: a new driver domain taking over a device whose guest runs on.
   */
  readonly backendOnly?: boolean;
}

export interface VifDevicePaths {
  readonly frontend: string;
  readonly backend: string;
  /** libxl's bookkeeping copy. */
  readonly libxl: string;
}

export interface VifDeviceId {
  readonly feDomid: number;
  readonly beDomid: number;
  readonly devid: number;
}

export function vifDevicePaths(id: VifDeviceId): VifDevicePaths {
  return {
    frontend: vifFrontendPath(id.feDomid, id.devid),
    backend: vifBackendPath(id.beDomid, id.feDomid, id.devid),
    libxl: vifLibxlPath(id.feDomid, id.devid),
  };
}

type Entries = readonly (readonly [string, string])[];

/**
 * Writes both directories (and libxl's copy) in one transaction, retried on EAGAIN. Any
 * earlier device at the same paths is removed first, as libxl does, so a re-add starts clean.
 */
export async function writeVifDevice(client: XsClient, spec: VifDeviceSpec): Promise<VifDevicePaths> {
  const { feDomid: fe, beDomid: be, devid, vif } = spec;
  checkDomid("feDomid", fe);
  checkDomid("beDomid", be);
  checkDomid("devid", devid);
  if (fe === be)
    throw new PvnetError("EINVAL", `vif ${fe}/${devid}: frontend and backend in the same domain`);
  const mtu = spec.mtu ?? VIF_MTU_DEFAULT;
  const paths = vifDevicePaths(spec);
  // The guest owns its frontend and the backend may read it; the backend owns its dir and
  // the guest may read it; `mtu` in the frontend carries the backend's perms so the guest
  // cannot change what it was given.
  const fePerms: XsPerm[] = [
    { letter: "n", domid: fe },
    { letter: "r", domid: be },
  ];
  const bePerms: XsPerm[] = [
    { letter: "n", domid: be },
    { letter: "r", domid: fe },
  ];
  const libxlPerms: XsPerm[] = [{ letter: "n", domid: 0 }];

  const front: Entries = [
    [KEY_BACKEND, paths.backend],
    [KEY_BACKEND_ID, String(be)],
    [KEY_STATE, String(XenbusState.Initialising)],
    [KEY_HANDLE, String(devid)],
    [KEY_MAC, vif.mac],
    [KEY_TRUSTED, spec.trusted === false ? "0" : "1"],
  ];
  const roFront: Entries = [[KEY_MTU, String(mtu)]];
  const back: Entries = [
    [KEY_FRONTEND, paths.frontend],
    [KEY_FRONTEND_ID, String(fe)],
    [KEY_ONLINE, "1"],
    [KEY_STATE, String(XenbusState.Initialising)],
    [KEY_SCRIPT, spec.script ?? VIF_BRIDGE_SCRIPT],
    [KEY_MAC, vif.mac],
    // vif-bridge's anti-spoofing rules want the guest's address, not its prefix.
    ...(vif.ip === undefined ? [] : [[KEY_IP, vif.ip.address] as const]),
    ...(mtu === VIF_MTU_DEFAULT ? [] : [[KEY_MTU, String(mtu)] as const]),
    [KEY_BRIDGE, vif.bridge],
    ...(vif.rate === undefined ? [] : [[KEY_RATE, vif.rate] as const]),
    [KEY_HANDLE, String(devid)],
    [KEY_TYPE, NIC_TYPE_VIF],
    // Present and empty: Linux netback then holds Connected until the script says "connected".
    [KEY_HOTPLUG_STATUS, ""],
  ];
  const libxlCopy: Entries = [
    ...back.filter(([k]) => k !== KEY_FRONTEND),
    [KEY_FRONTEND, paths.frontend],
    [KEY_BACKEND, paths.backend],
  ];

  await client.transaction(async (tx) => {
    if (spec.backendOnly !== true) {
      await freshDir(tx, paths.frontend, fePerms);
      await writeEntries(tx, paths.frontend, front, fePerms);
      await writeEntries(tx, paths.frontend, roFront, bePerms);
    }
    await freshDir(tx, paths.backend, bePerms);
    await writeEntries(tx, paths.backend, back, bePerms);
    await freshDir(tx, paths.libxl, libxlPerms);
    await writeEntries(tx, paths.libxl, libxlCopy, libxlPerms);
  });
  return paths;
}

/**
 * The last step of the hotplug script: records the outcome in the backend's
 * `hotplug-status`. Refuses (ENOENT) when the backend dir is gone, so a late script never
 * resurrects a removed device. Returns the bridge the vif is to be attached to.
 */
export function hotplugConnect(
  client: XsClient,
  beDir: string,
  status: typeof HOTPLUG_CONNECTED | typeof HOTPLUG_ERROR,
): Promise<string> {
  return client.transaction(async (tx) => {
    const bridge = await readOrUndefined(tx, `${beDir}/${KEY_BRIDGE}`);
    if (bridge === undefined || !(await tx.exists(`${beDir}/${KEY_HOTPLUG_STATUS}`)))
      throw new PvnetError(
        "ENOENT",
        `hotplug ${beDir}: no such vif backend (bridge and hotplug-status expected)`,
      );
    await tx.write(`${beDir}/${KEY_HOTPLUG_STATUS}`, status);
    return bridge;
  });
}

export interface RemoveVifOptions {
  /** How long to wait for the backend to reach Closed before removing anyway; 0 (default) does not wait. */
  readonly closedTimeoutMs?: number;
}

/**
 * Takes a vif away as libxl's device removal does: backend `online`=0 and, unless it is
 * already Closed, `state`=Closing, in one transaction; optionally waits for the backend to
 * reach Closed; then removes the frontend, backend and libxl directories in one transaction
 * (forcibly if the wait timed out, as libxl does). Returns whether the backend reached Closed.
 */
export async function removeVifDevice(
  client: XsClient,
  id: VifDeviceId,
  opts: RemoveVifOptions = {},
): Promise<boolean> {
  const paths = vifDevicePaths(id);
  const present = await client.transaction(async (tx) => {
    const state = await readOrUndefined(tx, `${paths.backend}/${KEY_STATE}`);
    if (state === undefined) return false;
    await tx.write(`${paths.backend}/${KEY_ONLINE}`, "0");
    if (parseXenbusState(state) !== XenbusState.Closed)
      await tx.write(`${paths.backend}/${KEY_STATE}`, String(XenbusState.Closing));
    return true;
  });
  let closed = !present;
  const wait = opts.closedTimeoutMs ?? 0;
  if (present && wait > 0) {
    try {
      await waitForState(client, `${paths.backend}/${KEY_STATE}`, (s) => s === XenbusState.Closed, {
        timeoutMs: wait,
      });
      closed = true;
    } catch (e) {
      if (!(e instanceof PvnetError && e.code === "ETIMEDOUT")) throw e;
    }
  } else if (present) {
    closed = (await readOrUndefined(client, `${paths.backend}/${KEY_STATE}`)) === String(XenbusState.Closed);
  }
  await client.transaction(async (tx) => {
    for (const p of [paths.frontend, paths.backend, paths.libxl]) await rmQuiet(tx, p);
  });
  return closed;
}

async function freshDir(tx: XsOps, dir: string, perms: readonly XsPerm[]): Promise<void> {
  await rmQuiet(tx, dir);
  await tx.mkdir(dir);
  await tx.setPerms(dir, perms);
}

async function writeEntries(
  tx: XsOps,
  dir: string,
  entries: Entries,
  perms: readonly XsPerm[],
): Promise<void> {
  for (const [k, v] of entries) {
    await tx.write(`${dir}/${k}`, v);
    await tx.setPerms(`${dir}/${k}`, perms);
  }
}

/** RM that treats a missing parent as nothing to remove. */
async function rmQuiet(tx: XsOps, path: string): Promise<void> {
  try {
    await tx.rm(path);
  } catch (e) {
    if (!(e instanceof PvnetError && e.code === "ENOENT")) throw e;
  }
}

function checkDomid(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fef)
    throw new PvnetError("EINVAL", `vif ${what} ${n}: not a domain/device id (0..32751)`);
}
