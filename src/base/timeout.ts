/**
 * Waiting on a promise for a bounded time. The timer is cleared once the promise settles:
 * a pending one would keep a worker alive after shutdown, and the machine would wait for it.
 */
import { PvnetError } from "./errors.js";

/** `p`, or an ETIMEDOUT `${what}: no answer within ${ms} ms` after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PvnetError("ETIMEDOUT", `${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** `p`, or undefined after `ms` (a rejection of `p` still rejects). */
export function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<undefined>((r) => {
    timer = setTimeout(() => r(undefined), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
