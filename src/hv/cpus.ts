/**
 * A domain's CPUs (xl.cfg's `cpus=`, its vCPU's hard affinity): which of the host's CPUs its
 * thread may run on. A Xen host gives Domain-0 cores of its own (dom0_max_vcpus,
 * dom0_vcpus_pin) and keeps the guests off them, so the backend that switches every guest's
 * frames never waits behind them; the same list on pvnet's domains does that for their
 * threads.
 *
 * The list is xl's syntax: `all`, a CPU (`3`), a range (`0-3`), comma-separated, and `^N`
 * or `^N-M` to take CPUs back out (`0-3,^1`). Node has no sched_setaffinity, so the thread
 * sets its own with util-linux's `taskset -p -c LIST TID` before its program runs (Linux
 * only; elsewhere a domain with `cpus` fails to start, with the reason).
 */
import { execFile } from "node:child_process";
import { readlinkSync } from "node:fs";
import { availableParallelism, cpus as hostCpuInfo } from "node:os";

/** CPU numbers a list may name: the host's (not only those this process may use now). */
export function hostCpuCount(): number {
  return hostCpuInfo().length || availableParallelism();
}

/** Whether `cpus` is a list a thread can be bound to: CPU numbers, at least one. */
export function validCpus(cpus: readonly number[]): boolean {
  return (
    Array.isArray(cpus) && cpus.length > 0 && cpus.every((c) => Number.isInteger(c) && c >= 0 && c < 4096)
  );
}

/** The CPUs `text` names on a host of `ncpus` CPUs, ascending; or why it names none. */
export function parseCpuList(text: string, ncpus: number): number[] | string {
  const t = text.trim();
  if (t === "all") return Array.from({ length: ncpus }, (_, i) => i);
  const on = new Set<number>();
  const off = new Set<number>();
  for (const part of t.split(",")) {
    const m = /^(\^?)(\d{1,4})(?:-(\d{1,4}))?$/.exec(part.trim());
    if (m === null) return `${JSON.stringify(part)} is not a CPU, a range A-B or ^CPU`;
    const lo = Number(m[2]);
    const hi = m[3] === undefined ? lo : Number(m[3]);
    if (hi < lo) return `${part} runs backwards`;
    if (hi >= ncpus) return `CPU ${hi} does not exist (this host has CPUs 0-${ncpus - 1})`;
    for (let c = lo; c <= hi; c++) (m[1] === "^" ? off : on).add(c);
  }
  const cpus = [...on].filter((c) => !off.has(c)).sort((a, b) => a - b);
  return cpus.length > 0 ? cpus : "it leaves no CPU";
}

/** `cpus` as taskset's list (`0,2-3`). */
export function formatCpuList(cpus: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j] + 1) j++;
    out.push(j === i ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

/** Binds the calling thread to `cpus`; rejects with one line saying why it could not. */
export function pinThisThread(cpus: readonly number[]): Promise<void> {
  let tid: number;
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>": the tid is this thread's own.
    const link = readlinkSync("/proc/thread-self");
    tid = Number(link.slice(link.lastIndexOf("/") + 1));
  } catch {
    return Promise.reject(new Error("cpus: this system has no per-thread CPU affinity (Linux only)"));
  }
  return pinThread(tid, cpus);
}

/**
 * Binds thread `tid` of this process to `cpus` (what `xl vcpu-pin` does to a running domain's
 * vCPU); rejects with one line saying why it could not.
 */
export function pinThread(tid: number, cpus: readonly number[]): Promise<void> {
  if (!Number.isSafeInteger(tid) || tid <= 0) return Promise.reject(new Error("cpus: no thread id"));
  const list = formatCpuList(cpus);
  return new Promise((resolve, reject) => {
    execFile("taskset", ["-p", "-c", list, String(tid)], (err, _out, stderr) => {
      if (err === null) return resolve();
      const why = String(stderr).trim().split("\n").pop() || err.message;
      reject(new Error(`cpus: taskset could not bind the thread to ${list}: ${why}`));
    });
  });
}
