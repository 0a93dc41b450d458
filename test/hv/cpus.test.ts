import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import fc from "fast-check";
import { formatCpuList, hostCpuCount, parseCpuList } from "../../src/hv/cpus.js";
import { parseHostConfig } from "../../src/toolstack/config.js";
import { handleRequest } from "../../src/toolstack/control.js";
import { Host } from "../../src/toolstack/host.js";

test("cpu lists: xl's syntax, exclusions, and the host's bounds", () => {
  assert.deepEqual(parseCpuList("all", 4), [0, 1, 2, 3]);
  assert.deepEqual(parseCpuList("3", 4), [3]);
  assert.deepEqual(parseCpuList("0-3,^1", 4), [0, 2, 3]);
  assert.deepEqual(parseCpuList(" 2,0 ", 4), [0, 2]);
  assert.match(String(parseCpuList("4", 4)), /CPU 4 does not exist \(this host has CPUs 0-3\)/);
  assert.match(String(parseCpuList("3-1", 4)), /runs backwards/);
  assert.match(String(parseCpuList("0,^0", 4)), /leaves no CPU/);
  assert.match(String(parseCpuList("one", 4)), /is not a CPU/);
  assert.match(String(parseCpuList("", 4)), /is not a CPU/);
});

test("property: a list of CPUs formatted as taskset's and read back is the same set", () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.nat(63), { minLength: 1, maxLength: 64 }), (cpus) => {
      const sorted = [...cpus].sort((a, b) => a - b);
      assert.deepEqual(parseCpuList(formatCpuList(sorted), 64), sorted);
    }),
  );
});

test("property: whatever string is given, the parser answers a list within the host or a reason, never throws", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(..."0123456789-,^ al") }),
      fc.integer({ min: 1, max: 8 }),
      (s, n) => {
        const r = parseCpuList(s, n);
        if (typeof r !== "string") assert.ok(r.length > 0 && r.every((c) => c >= 0 && c < n));
      },
    ),
  );
});

test("a host file's cpus: a CPU the host lacks names the field", () => {
  const yaml = `domains:\n  - name: Domain-0\n    cpus: ${hostCpuCount()}\n`;
  const r = parseHostConfig(yaml, "h.yaml");
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.issues[0].field, "domains[0].cpus");
  assert.match(r.issues[0].problem, /does not exist/);
});

test("a domain with cpus runs on those CPUs only (its thread's affinity, read from /proc)", async (t) => {
  if (process.platform !== "linux") return t.skip("per-thread affinity is Linux's");
  const last = hostCpuCount() - 1;
  const yaml = `domains:\n  - name: Domain-0\n    cpus: ${last}\n  - name: g\n    cpus: "0-${last}"\n`;
  const r = parseHostConfig(yaml, "h.yaml");
  assert.ok(r.ok, JSON.stringify(r.ok ? null : r.issues));
  const host = await Host.boot(r.config, { socketPath: null });
  try {
    const allowed = (domid: number): string => {
      const probe = host.machine.threadSample(domid);
      assert.ok(probe !== undefined);
      const tid = host.machine.threadId(domid);
      assert.ok(tid > 0, "the domain's thread id");
      return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/self/task/${tid}/status`, "utf8"))![1]!;
    };
    assert.equal(allowed(0), String(last));
    assert.equal(allowed(1), last === 0 ? "0" : `0-${last}`);
    assert.deepEqual(
      host.machine.status().map((d) => d.cpus),
      [[last], Array.from({ length: last + 1 }, (_, i) => i)],
    );
    // xl vcpu-pin over the control socket's protocol: the running guest moves to one CPU.
    const pin = await handleRequest(
      host,
      JSON.stringify({ op: "vcpu-pin", domain: "g", cpus: String(last) }),
    );
    assert.deepEqual(pin, { ok: true, domain: "g", id: 1, cpus: String(last) });
    assert.equal(allowed(1), String(last));
    assert.deepEqual(host.machine.status()[1]!.cpus, [last]);
    const bad = await handleRequest(
      host,
      JSON.stringify({ op: "vcpu-pin", domain: "g", cpus: `${last + 1}` }),
    );
    assert.equal(bad.ok, false);
    assert.match(String(bad.error), /does not exist/);
    assert.equal(allowed(1), String(last), "a refused pin changes nothing");
    const extra = await handleRequest(
      host,
      JSON.stringify({ op: "vcpu-pin", domain: "g", cpus: "0", vcpu: 1 }),
    );
    assert.match(String(extra.error), /unknown field "vcpu"/);
  } finally {
    await host.shutdown();
  }
});

test("a guest whose probe names a thread not its own (the main thread's): vcpu-pin refuses, and binds nothing", async (t) => {
  if (process.platform !== "linux") return t.skip("per-thread affinity is Linux's");
  const r = parseHostConfig("domains:\n  - name: Domain-0\n  - name: liar\n", "h.yaml");
  assert.ok(r.ok, JSON.stringify(r.ok ? null : r.issues));
  const host = await Host.boot(r.config, {
    socketPath: null,
    programs: { liar: new URL("./programs/lying-probe.js", import.meta.url) },
  });
  try {
    const mainAllowed = (): string =>
      /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/self/task/${process.pid}/status`, "utf8"))![1]!;
    const before = mainAllowed();
    const reply = await handleRequest(host, JSON.stringify({ op: "vcpu-pin", domain: "liar", cpus: "0" }));
    assert.equal(reply.ok, false);
    assert.match(String(reply.error), /names a thread not its own/);
    assert.equal(mainAllowed(), before, "the main thread's CPUs are untouched");
    assert.equal(host.machine.status()[1]!.cpus, undefined);
  } finally {
    await host.shutdown();
  }
});
