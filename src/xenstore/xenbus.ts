/**
 * xenbus helpers on top of XsClient: the device state machine both ends of a split driver
 * step through (`<dir>/state`, decimal ASCII) and feature keys with defaults.
 *
 * Behaviour follows Linux's xenbus client: a state switch reads and writes in one
 * transaction and skips the write when nothing would change or the node has gone (so no
 * watch fires needlessly and a directory being torn down is not resurrected).
 */
import { PvnetError } from "../base/errors.js";
import type { XsClient, XsOps } from "./client.js";
import { KEY_STATE } from "./keys.js";

/** enum xenbus_state (xen/include/public/io/xenbus.h). */
export enum XenbusState {
  Unknown = 0,
  Initialising = 1,
  InitWait = 2,
  Initialised = 3,
  Connected = 4,
  Closing = 5,
  Closed = 6,
  Reconfiguring = 7,
  Reconfigured = 8,
}

/** "Connected", or "Invalid(42)" for a number outside the enum. */
export function xenbusStateName(s: number): string {
  return isXenbusState(s) ? XenbusState[s] : `Invalid(${s})`;
}

export function isXenbusState(s: number): s is XenbusState {
  return Number.isInteger(s) && s >= XenbusState.Unknown && s <= XenbusState.Reconfigured;
}

/**
 * Parses a state value as the other end wrote it. Absent, empty, non-decimal or out of
 * range reads as Unknown, as Linux's xenbus_read_driver_state does for a missing node.
 */
export function parseXenbusState(text: string | undefined): XenbusState {
  if (text === undefined || !/^\d{1,3}$/.test(text)) return XenbusState.Unknown;
  const n = Number(text);
  return isXenbusState(n) ? n : XenbusState.Unknown;
}

function statePath(dir: string): string {
  return `${dir}/${KEY_STATE}`;
}

/** Reads `path`, or undefined when it does not exist (any other error is thrown). */
export async function readOrUndefined(ops: XsOps, path: string): Promise<string | undefined> {
  try {
    return await ops.read(path);
  } catch (e) {
    if (e instanceof PvnetError && e.code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * Moves the device at `dir` to `state`. Returns true if it wrote, false if the state was
 * already `state` or `<dir>/state` does not exist.
 */
export function switchState(client: XsClient, dir: string, state: XenbusState): Promise<boolean> {
  return client.transaction(async (tx) => {
    const cur = await readOrUndefined(tx, statePath(dir));
    if (cur === undefined || parseXenbusState(cur) === state) return false;
    await tx.write(statePath(dir), String(state));
    return true;
  });
}

/** The current state at `dir` (Unknown when absent). */
export async function readState(client: XsOps, dir: string): Promise<XenbusState> {
  return parseXenbusState(await readOrUndefined(client, statePath(dir)));
}

/**
 * Waits until the state node at `path` (a full `.../state` path) satisfies `predicate`, and
 * returns that state. Uses a watch, so it also sees the current value at once (the initial
 * event). Rejects with ETIMEDOUT after `timeoutMs` (not an xs_wire error: it never travels).
 */
export async function waitForState(
  client: XsClient,
  path: string,
  predicate: (s: XenbusState) => boolean,
  opts: { timeoutMs?: number } = {},
): Promise<XenbusState> {
  const w = await client.watch(path);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    if (opts.timeoutMs === undefined) return;
    timer = setTimeout(
      () => reject(new PvnetError("ETIMEDOUT", `Timed out after ${opts.timeoutMs} ms waiting on ${path}`)),
      opts.timeoutMs,
    );
  });
  const wait = (async (): Promise<XenbusState> => {
    for await (const _ev of w) {
      const s = parseXenbusState(await readOrUndefined(client, path));
      if (predicate(s)) return s;
    }
    throw new PvnetError("EIO", `Watch on ${path} ended (connection closed)`);
  })();
  try {
    return await Promise.race([wait, timeout]);
  } finally {
    clearTimeout(timer);
    await w.close().catch(() => undefined); // the connection may be gone; nothing left to undo
    wait.catch(() => undefined); // settles as EIO once the watch ends; already reported or irrelevant
  }
}

/**
 * A feature key as Linux's xenbus_read_unsigned reads it: a decimal number ("0", "1", "16");
 * `dflt` when the key is absent or not a decimal number.
 */
export async function readFeature(client: XsOps, dir: string, key: string, dflt: number): Promise<number> {
  const v = await readOrUndefined(client, `${dir}/${key}`);
  if (v === undefined || !/^\d{1,10}$/.test(v)) return dflt;
  return Number(v);
}
