/**
 * Listening on a unix socket path as a daemon should: the path must fit sun_path, a stale
 * socket left by a previous run is removed, and anything else at the path is refused
 * rather than deleted.
 */
import { lstatSync, unlinkSync } from "node:fs";
import type { Server } from "node:net";
import { PvnetError } from "./errors.js";

/** sockaddr_un.sun_path is 108 bytes on Linux, NUL included. */
export const SUN_PATH_MAX = 107;

/**
 * Binds `server` to `path`. Refuses a path that does not fit sun_path (EINVAL) or that
 * exists and is not a socket (EEXIST).
 */
export async function listenUnix(server: Server, path: string): Promise<void> {
  const len = Buffer.byteLength(path);
  if (len > SUN_PATH_MAX)
    throw new PvnetError("EINVAL", `Socket path too long: ${len} bytes > ${SUN_PATH_MAX} (sun_path)`, {
      path,
    });
  removeStaleSocket(path);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function removeStaleSocket(path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // absent: nothing to remove
  }
  if (!isSocket) throw new PvnetError("EEXIST", `Cannot listen on ${path}: exists and is not a socket`);
  unlinkSync(path);
}
