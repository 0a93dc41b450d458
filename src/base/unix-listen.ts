/**
 * Listening on a unix socket path as a daemon should: the path must fit sun_path, its
 * directory is created when missing, a socket that a live daemon answers on is refused
 * (EADDRINUSE: "already running"), a stale one (nothing answers a connect) is removed,
 * and anything else at the path is refused rather than deleted.
 */
import { lstatSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { connect, type Server } from "node:net";
import { dirname } from "node:path";
import { PvnetError } from "./errors.js";

/** sockaddr_un.sun_path is 108 bytes on Linux, NUL included. */
export const SUN_PATH_MAX = 107;

/** How long a connect to an existing socket may take before its owner counts as alive. */
const PROBE_MS = 1000;

/**
 * Binds `server` to `path`, creating its directory. Refuses an empty path or one that
 * does not fit sun_path (EINVAL), a path that exists and is not a socket (EEXIST), and a
 * socket a live daemon answers on (EADDRINUSE). Failures keep the errno as their code
 * (EACCES, ENOENT, ENOTDIR...) with a message naming what could not be done.
 */
export async function listenUnix(server: Server, path: string): Promise<void> {
  if (path === "") throw new PvnetError("EINVAL", "empty socket path (expected a file path)");
  const len = Buffer.byteLength(path);
  if (len > SUN_PATH_MAX)
    throw new PvnetError("EINVAL", `socket path too long: ${len} bytes > ${SUN_PATH_MAX} (sun_path)`, {
      path,
    });
  makeDir(dirname(path), path);
  await removeStaleSocket(path);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      const code = e.code ?? "EIO";
      reject(
        code === "EADDRINUSE"
          ? new PvnetError(code, `already running at ${path}`)
          : new PvnetError(code, `cannot listen on ${path}: ${errnoText(e)}`),
      );
    };
    server.once("error", onError);
    server.listen(path, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** The lower-case strerror part of a Node errno message ("permission denied"). */
function errnoText(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(e.message);
  return m?.[1] ?? e.message;
}

/**
 * mkdir -p without fs's recursive mode, which loops forever where mkdir answers ENOENT
 * for a parent that exists (/proc). Each level is tried once: depth bounds the work.
 */
function makeDir(dir: string, forPath: string): void {
  try {
    if (statSync(dir).isDirectory()) return;
    throw new PvnetError("ENOTDIR", `cannot use ${dir} for ${forPath}: not a directory`);
  } catch (e) {
    if (e instanceof PvnetError) throw e;
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw dirError(e, dir, forPath);
  }
  const parent = dirname(dir);
  if (parent !== dir) makeDir(parent, forPath);
  try {
    mkdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && statSync(dir).isDirectory()) return;
    // The parent is there (made or checked above), so ENOENT means it takes no new entries.
    if (code === "ENOENT")
      throw new PvnetError(
        code,
        `cannot create the directory ${dir} for ${forPath}: ${parent} takes no new directories`,
      );
    throw dirError(e, dir, forPath);
  }
}

function dirError(e: unknown, dir: string, forPath: string): PvnetError {
  const err = e as NodeJS.ErrnoException;
  return new PvnetError(
    err.code ?? "EIO",
    `cannot create the directory ${dir} for ${forPath}: ${errnoText(err)}`,
  );
}

async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // absent: nothing to remove
  }
  if (!isSocket) throw new PvnetError("EEXIST", `cannot listen on ${path}: exists and is not a socket`);
  const answer = await probe(path);
  if (answer === "live") throw new PvnetError("EADDRINUSE", `already running at ${path}`);
  if (answer !== "stale")
    throw new PvnetError(answer, `cannot tell whether a daemon owns ${path} (connect: ${answer})`);
  unlinkSync(path);
}

/** "live" when something accepts a connection, "stale" when nothing listens, else the errno. */
function probe(path: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (r: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    // A daemon too busy to accept within the limit is still alive.
    const timer = setTimeout(() => done("live"), PROBE_MS);
    s.once("connect", () => done("live"));
    s.once("error", (e: NodeJS.ErrnoException) =>
      done(e.code === "ECONNREFUSED" || e.code === "ENOENT" ? "stale" : (e.code ?? "EIO")),
    );
  });
}
