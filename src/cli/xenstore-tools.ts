/**
 * `pvnet xenstore read|write|ls|list|watch|rm|chmod|exists`: our own client with
 * xenstore-utils 4.17's behaviour and output, byte for byte where the tools define it
 * (formats observed by running the real tools; see test/interop/xenstore-utils.test.ts).
 * Each tool returns its exit status instead of exiting, so tests run it in-process.
 */
import { PvnetError } from "../base/errors.js";
import type { XsClient, XsOps } from "../xenstore/client.js";
import { isXsFail } from "../xenstore/path.js";
import { formatPerm, parsePerm, type XsPerm } from "../xenstore/store/perms.js";
import { sanitiseValue, unsanitiseValue } from "../xenstore/value-text.js";

export interface ToolIo {
  /** Text is written as UTF-8; bytes (read -R) as they are. */
  out: (s: string | Uint8Array) => void;
  err: (s: string) => void;
  /** Terminal width for ls; the real tools use 80 when stdout is not a terminal. */
  width: number;
}

/** The strerror text the C tools print for an xs_wire error name. */
const STRERROR: Record<string, string> = {
  EINVAL: "Invalid argument",
  EACCES: "Permission denied",
  EEXIST: "File exists",
  EISDIR: "Is a directory",
  ENOENT: "No such file or directory",
  ENOMEM: "Cannot allocate memory",
  ENOSPC: "No space left on device",
  EIO: "Input/output error",
  ENOTEMPTY: "Directory not empty",
  ENOSYS: "Function not implemented",
  EROFS: "Read-only file system",
  EBUSY: "Device or resource busy",
  EAGAIN: "Resource temporarily unavailable",
  EISCONN: "Transport endpoint is already connected",
  E2BIG: "Argument list too long",
  EPERM: "Operation not permitted",
};

export function strerror(e: unknown): string {
  if (e instanceof PvnetError) return STRERROR[e.code] ?? e.message;
  return e instanceof Error ? e.message : String(e);
}

/** Runs `fn` in a transaction when the tool got several keys, as the C tools do. */
function maybeTx<T>(client: XsClient, many: boolean, fn: (ops: XsOps) => Promise<T>): Promise<T> {
  return many ? client.transaction(fn) : fn(client);
}

/** A failure already reported on stderr: aborts the transaction, exit status 1. */
class Reported extends Error {}

async function runReported(body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (e) {
    if (e instanceof Reported) return 1;
    throw e;
  }
}

export function toolRead(c: XsClient, keys: string[], o: { prefix?: boolean; raw?: boolean }, io: ToolIo) {
  return runReported(() =>
    maybeTx(c, keys.length > 1, async (ops) => {
      for (const k of keys) {
        let v: Uint8Array;
        try {
          v = await ops.readBytes(k);
        } catch {
          io.err(`couldn't read path ${k}\n`);
          throw new Reported();
        }
        if (o.prefix) io.out(`${k}: `);
        io.out(o.raw ? v : `${sanitiseValue(v)}\n`);
      }
    }),
  );
}

export function toolWrite(c: XsClient, args: string[], o: { raw?: boolean }, io: ToolIo) {
  return runReported(() =>
    maybeTx(c, args.length > 2, async (ops) => {
      for (let i = 0; i + 1 < args.length; i += 2) {
        const value = o.raw ? new TextEncoder().encode(args[i + 1]) : unsanitiseValue(args[i + 1]!);
        try {
          await ops.write(args[i]!, value);
        } catch {
          io.err(`could not write path ${args[i]}\n`);
          throw new Reported();
        }
      }
    }),
  );
}

export function toolExists(c: XsClient, keys: string[]) {
  return runReported(() =>
    maybeTx(c, keys.length > 1, async (ops) => {
      for (const k of keys) {
        if (!(await ops.exists(k))) throw new Reported();
      }
    }),
  );
}

/**
 * xenstore-rm; `-t` (tidy) then removes each parent that is left with no children and an
 * empty value, up towards the root, as the real tool does.
 */
export function toolRm(c: XsClient, keys: string[], io: ToolIo, o: { tidy?: boolean } = {}) {
  const rm = async (ops: XsOps, k: string): Promise<void> => {
    try {
      await ops.rm(k);
    } catch {
      io.err(`could not remove path ${k}\n`);
      throw new Reported();
    }
  };
  return runReported(() =>
    maybeTx(c, keys.length > 1 || o.tidy === true, async (ops) => {
      for (const k of keys) {
        await rm(ops, k);
        if (!o.tidy) continue;
        // Each step drops one path component, so the walk ends at the root.
        for (let p = parentPath(k); p !== null; p = parentPath(p)) {
          const v = await ops.readBytes(p).catch(() => null);
          if (v === null || v.length > 0) break;
          const kids = await ops.directory(p).catch(() => null);
          if (kids === null || kids.length > 0) break;
          await rm(ops, p);
        }
      }
    }),
  );
}

/** The parent of an absolute path, or null at (or above) the first component. */
function parentPath(p: string): string | null {
  const slash = p.lastIndexOf("/");
  return slash <= 0 ? null : p.slice(0, slash);
}

/** xenstore-list: always in a transaction; `-p` prints full paths. */
export function toolList(c: XsClient, keys: string[], o: { prefix?: boolean }, io: ToolIo) {
  return runReported(() =>
    c.transaction(async (ops) => {
      for (const k of keys) {
        let names: string[];
        try {
          names = await ops.directory(k);
        } catch {
          io.err(`could not list path ${k}\n`);
          throw new Reported();
        }
        for (const n of names) io.out(o.prefix ? `${k === "/" ? "" : k}/${n}\n` : `${n}\n`);
      }
    }),
  );
}

/**
 * xenstore-chmod: always in a transaction; `-r` applies to the whole subtree, `-u` to
 * every parent up to the first component as well.
 */
export function toolChmod(
  c: XsClient,
  path: string,
  perms: string[],
  o: { recurse?: boolean; upto?: boolean },
  io: ToolIo,
) {
  const parsed: XsPerm[] = [];
  for (const p of perms) {
    // The real tool checks only the letter itself; the rest is the daemon's EINVAL.
    if (!/^[nrwb]/.test(p)) {
      io.err(`Invalid permission specification: '${p.slice(0, 1)}'\n`);
      return Promise.resolve(1);
    }
    const x = parsePerm(p);
    if (!isXsFail(x)) parsed.push(x);
  }
  if (parsed.length === 0 || parsed.length !== perms.length) {
    io.err(`Error occurred setting permissions on '${path}': ${STRERROR.EINVAL}\n`);
    return Promise.resolve(1);
  }
  return runReported(() =>
    c.transaction(async (ops) => {
      const todo = [path];
      // -u: the parents get the permissions too, but not their other subtrees.
      const up: string[] = [];
      if (o.upto) for (let p = parentPath(path); p !== null; p = parentPath(p)) up.push(p);
      for (const p of up) {
        try {
          await ops.setPerms(p, parsed);
        } catch (e) {
          io.err(`Error occurred setting permissions on '${p}': ${strerror(e)}\n`);
          throw new Reported();
        }
      }
      for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
        try {
          await ops.setPerms(p, parsed);
          if (o.recurse) for (const n of (await ops.directory(p)).reverse()) todo.push(childPath(p, n));
        } catch (e) {
          io.err(`Error occurred setting permissions on '${p}': ${strerror(e)}\n`);
          throw new Reported();
        }
      }
    }),
  );
}

/**
 * xenstore-watch: one line per event (the path that fired); `-n` stops after that many.
 * The daemon going away ends the watch with status 1 and says so.
 */
export async function toolWatch(
  c: XsClient,
  path: string,
  o: { count?: number },
  io: ToolIo,
): Promise<number> {
  const w = await c.watch(path, path); // the real tool uses the path as its token
  let n = 0;
  for await (const ev of w) {
    io.out(`${ev.path}\n`);
    if (o.count !== undefined && ++n >= o.count) return 0;
  }
  io.err("the daemon closed the connection\n");
  return 1;
}

function childPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** Where TAG_LEN-style truncation and the perms column sit in xenstore-ls output. */
const LS_TAG_LEN = 8;
const LS_PERMS_COL_MAX = 62;

/** One xenstore-ls line (without the newline). */
export function lsLine(
  label: string,
  depth: number,
  value: Uint8Array,
  perms: readonly XsPerm[] | undefined,
  width: number,
  wholePath: boolean,
): string {
  let line = wholePath ? label : " ".repeat(depth) + clip(label, width - LS_TAG_LEN - depth);
  const text = sanitiseValue(value);
  // The length test uses the raw value, the cut the escaped text, as the real tool does.
  // With whole paths (-f) nothing is cut and no dots are drawn.
  const truncated = !wholePath && width < line.length + value.length + LS_TAG_LEN;
  line += truncated ? ` = "${clip(text, width - LS_TAG_LEN - line.length)}\\..."` : ` = "${text}"`;
  if (perms === undefined) return line;
  // Observed: a full value gets one space, then " ." pairs on odd columns up to the perms
  // column (at most 62, minus the two spaces before it); a truncated one gets none.
  if (!truncated) {
    const stop = wholePath ? 0 : Math.min(width, LS_PERMS_COL_MAX) - 2;
    line += " ";
    for (let p = line.length; p < stop; p++) line += p % 2 === 1 ? "." : " ";
  }
  return `${line}  (${perms.map(formatPerm).join(",")})`;
}

/** printf's "%.*s": a negative precision means no limit. */
function clip(s: string, n: number): string {
  return n < 0 ? s : s.slice(0, n);
}

/**
 * xenstore-ls: the subtree below `path` (not `path` itself), depth first, without a
 * transaction; per node READ (then GET_PERMS with `-p`), its line, then DIRECTORY and its
 * subtree, as the real tool. Iterative, so a deep tree cannot exhaust the stack.
 */
export async function toolLs(c: XsClient, path: string, o: { perms?: boolean; full?: boolean }, io: ToolIo) {
  let names: string[];
  try {
    names = await c.directory(path);
  } catch (e) {
    io.err(`xs_directory (${path}): ${strerror(e)}\n`);
    return 1;
  }
  const stack = names.reverse().map((n) => ({ name: n, path: childPath(path, n), depth: 0 }));
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    let v: Uint8Array;
    try {
      v = await c.readBytes(node.path);
    } catch {
      continue; // removed while we walked
    }
    const perms = o.perms ? await c.getPerms(node.path).catch(() => []) : undefined;
    const label = o.full ? node.path : node.name;
    io.out(`${lsLine(label, node.depth, v, perms, io.width, o.full === true)}\n`);
    const kids = await c.directory(node.path).catch(() => [] as string[]);
    for (let i = kids.length - 1; i >= 0; i--) {
      stack.push({ name: kids[i]!, path: childPath(node.path, kids[i]!), depth: node.depth + 1 });
    }
  }
  return 0;
}
