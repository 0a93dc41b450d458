/**
 * Model test: random sequences of write/read/mkdir/rm/directory/set_perms from three
 * domains (dom0 privileged, guests 1 and 2), some inside transactions that commit, abort
 * or conflict, run against the daemon and against a plain Map-based model of the store.
 *
 * Transactions in the model: a copy of the store at start plus a log of the changes. A
 * transaction is "dirty" once anything else changed the store after it started. A clean
 * transaction must commit (the store becomes its copy); a dirty one may commit (its log
 * is replayed on the current store, which is what a validated optimistic commit amounts
 * to) or answer EAGAIN (nothing changes). Reads inside are checked while clean.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { newDaemon, TestClient } from "./harness.js";

interface MNode {
  value: string;
  perms: string[];
}
type Store = Map<string, MNode>;

interface Who {
  dom: number;
  priv: boolean;
}

const parentOf = (p: string) => (p.lastIndexOf("/") === 0 ? "/" : p.slice(0, p.lastIndexOf("/")));

function bits(perms: string[], who: Who): { r: boolean; w: boolean; owner: boolean } {
  const owner = Number(perms[0].slice(1));
  if (who.priv || owner === who.dom) return { r: true, w: true, owner: true };
  const e = perms.slice(1).find((p) => Number(p.slice(1)) === who.dom) ?? perms[0];
  const l = e[0];
  return { r: l === "r" || l === "b", w: l === "w" || l === "b", owner: false };
}

function missing(s: Store, who: Who, path: string): string {
  for (let p = parentOf(path); ; p = parentOf(p)) {
    const n = s.get(p);
    if (n !== undefined) return bits(n.perms, who).r ? "ENOENT" : "EACCES";
    if (p === "/") return "ENOENT";
  }
}

function create(s: Store, who: Who, path: string, value: string): string {
  const chain = [path];
  let top = parentOf(path);
  while (!s.has(top)) {
    chain.push(top);
    top = parentOf(top);
  }
  const anchor = s.get(top)!;
  if (!bits(anchor.perms, who).w) return "EACCES";
  const owner = Number(anchor.perms[0].slice(1));
  const perms =
    who.priv || owner === who.dom
      ? anchor.perms
      : [`${anchor.perms[0][0]}${who.dom}`, ...anchor.perms.slice(1)];
  for (const p of chain) s.set(p, { value: p === path ? value : "", perms });
  return "OK";
}

/** Applies one op; returns the reply as the harness spells it and whether the store changed. */
function apply(s: Store, who: Who, op: Op): { r: string; changed: boolean } {
  const n = s.get(op.path);
  switch (op.kind) {
    case "read":
      if (n === undefined) return { r: missing(s, who, op.path), changed: false };
      return { r: bits(n.perms, who).r ? `=${n.value}` : "EACCES", changed: false };
    case "dir": {
      if (n === undefined) return { r: missing(s, who, op.path), changed: false };
      if (!bits(n.perms, who).r) return { r: "EACCES", changed: false };
      const kids = [...s.keys()]
        .filter((k) => k !== "/" && parentOf(k) === op.path)
        .map((k) => k.slice(k.lastIndexOf("/") + 1));
      return { r: kids.sort().join(","), changed: false };
    }
    case "write":
      if (n === undefined) {
        const r = create(s, who, op.path, op.value);
        return { r, changed: r === "OK" };
      }
      if (!bits(n.perms, who).w) return { r: "EACCES", changed: false };
      s.set(op.path, { value: op.value, perms: n.perms });
      return { r: "OK", changed: true };
    case "mkdir":
      if (n === undefined) {
        const r = create(s, who, op.path, "");
        return { r, changed: r === "OK" };
      }
      return { r: bits(n.perms, who).w ? "OK" : "EACCES", changed: false };
    case "rm": {
      if (n === undefined) {
        const m = missing(s, who, op.path);
        if (m === "EACCES") return { r: m, changed: false };
        return { r: s.has(parentOf(op.path)) ? "OK" : "ENOENT", changed: false };
      }
      if (!bits(n.perms, who).w) return { r: "EACCES", changed: false };
      for (const k of [...s.keys()]) if (k === op.path || k.startsWith(`${op.path}/`)) s.delete(k);
      return { r: "OK", changed: true };
    }
    case "perms": {
      if (n === undefined) return { r: missing(s, who, op.path), changed: false };
      if (!bits(n.perms, who).owner) return { r: "EACCES", changed: false };
      if (!who.priv && op.perms[0].slice(1) !== n.perms[0].slice(1)) return { r: "EPERM", changed: false };
      s.set(op.path, { value: n.value, perms: op.perms });
      return { r: "OK", changed: true };
    }
  }
}

interface Op {
  kind: "read" | "dir" | "write" | "mkdir" | "rm" | "perms";
  path: string;
  value: string;
  perms: string[];
}
type Cmd = { dom: number; inTx: boolean } & (
  | { t: "op"; op: Op }
  | { t: "start" }
  | { t: "end"; commit: boolean }
);

function daemonDo(c: TestClient, op: Op, tx: number): string {
  switch (op.kind) {
    case "read":
      return c.read(op.path, tx);
    case "dir": {
      const r = c.dir(op.path, tx);
      return typeof r === "string" ? r : [...r].sort().join(",");
    }
    case "write":
      return c.write(op.path, op.value, tx);
    case "mkdir":
      return c.mkdir(op.path, tx);
    case "rm":
      return c.rm(op.path, tx);
    case "perms":
      return c.setPerms(op.path, op.perms, tx);
  }
}

const seg = fc.constantFrom("a", "b", "c");
const pathArb = fc
  .tuple(fc.constantFrom("/shared", "/local/domain/1", "/local/domain/2"), fc.array(seg, { maxLength: 3 }))
  .map(([root, segs]) => [root, ...segs].join("/"));
const permArb = fc
  .tuple(fc.constantFrom("n", "r", "w", "b"), fc.constantFrom(0, 1, 2))
  .map(([l, d]) => `${l}${d}`);
const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom("read", "dir", "write", "write", "mkdir", "rm", "perms"),
  path: pathArb,
  value: fc.constantFrom("", "x", "yy", "z\u00e9"),
  perms: fc.array(permArb, { minLength: 1, maxLength: 3 }),
});
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      dom: fc.constantFrom(0, 1, 2),
      inTx: fc.constantFrom(true, true, false),
      t: fc.constant("op" as const),
      op: opArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      dom: fc.constantFrom(0, 1, 2),
      inTx: fc.constant(true),
      t: fc.constant("start" as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      dom: fc.constantFrom(0, 1, 2),
      inTx: fc.constant(true),
      t: fc.constant("end" as const),
      commit: fc.boolean(),
    }),
  },
);

interface MTx {
  id: number;
  view: Store;
  log: Op[];
  dirty: boolean;
}

function clone(s: Store): Store {
  return new Map([...s].map(([k, v]) => [k, { value: v.value, perms: [...v.perms] }]));
}

test("the daemon agrees with a Map model over random ops, transactions and perms", () => {
  const seen = { commits: 0, eagain: 0 };
  fc.assert(
    fc.property(fc.array(cmdArb, { minLength: 10, maxLength: 80, size: "max" }), (cmds) => {
      const { d } = newDaemon();
      const clients = [new TestClient(d, 0), new TestClient(d, 1), new TestClient(d, 2)];
      const model: Store = new Map();
      for (const p of ["/", "/tool", "/local", "/local/domain", "/local/domain/0", "/vm"]) {
        model.set(p, { value: "", perms: ["n0"] });
      }
      model.set("/local/domain/0/name", { value: "Domain-0", perms: ["n0"] });
      model.set("/local/domain/0/domid", { value: "0", perms: ["n0"] });
      const dom0: Who = { dom: 0, priv: true };
      const setup: Op[] = [
        { kind: "mkdir", path: "/local/domain/1", value: "", perms: [] },
        { kind: "perms", path: "/local/domain/1", value: "", perms: ["n1", "r0"] },
        { kind: "mkdir", path: "/local/domain/2", value: "", perms: [] },
        { kind: "perms", path: "/local/domain/2", value: "", perms: ["n2", "r0"] },
        { kind: "mkdir", path: "/shared", value: "", perms: [] },
        { kind: "perms", path: "/shared", value: "", perms: ["b0"] },
      ];
      for (const op of setup) assert.equal(daemonDo(clients[0], op, 0), apply(model, dom0, op).r);
      const txs: (MTx | undefined)[] = [undefined, undefined, undefined];
      // Any change to the store disturbs every open transaction (the committing one is closed already).
      const dirtyAll = () => {
        for (const t of txs) if (t !== undefined) t.dirty = true;
      };
      for (const cmd of cmds) {
        const who: Who = { dom: cmd.dom, priv: cmd.dom === 0 };
        const c = clients[cmd.dom];
        const tx = txs[cmd.dom];
        if (cmd.t === "start") {
          if (tx !== undefined) continue;
          txs[cmd.dom] = { id: c.txStart(), view: clone(model), log: [], dirty: false };
        } else if (cmd.t === "end") {
          if (tx === undefined) continue;
          txs[cmd.dom] = undefined;
          const r = c.txEnd(tx.id, cmd.commit);
          if (!cmd.commit) {
            assert.equal(r, "OK");
            continue;
          }
          seen.commits++;
          if (!tx.dirty) {
            assert.equal(r, "OK", "a transaction nobody disturbed commits");
            model.clear();
            for (const [k, v] of tx.view) model.set(k, v);
          } else if (r === "OK") {
            for (const op of tx.log) apply(model, who, op);
          } else {
            assert.equal(r, "EAGAIN");
            seen.eagain++;
            continue;
          }
          if (tx.log.some((op) => op.kind !== "read" && op.kind !== "dir")) dirtyAll();
        } else if (cmd.inTx && tx !== undefined) {
          const got = daemonDo(c, cmd.op, tx.id);
          const want = apply(tx.view, who, cmd.op);
          if (!tx.dirty) assert.equal(got, want.r, `in tx: ${cmd.op.kind} ${cmd.op.path}`);
          // Every mutating op is replayed on a dirty commit: what it does is decided anew.
          if (cmd.op.kind !== "read" && cmd.op.kind !== "dir") tx.log.push(cmd.op);
        } else {
          const got = daemonDo(c, cmd.op, 0);
          const want = apply(model, who, cmd.op);
          assert.equal(got, want.r, `${cmd.dom}: ${cmd.op.kind} ${cmd.op.path} ${cmd.op.perms}`);
          if (want.changed) dirtyAll();
        }
      }
      // Final state: dom0 sees the same tree as the model.
      for (const [p, n] of model) {
        assert.equal(clients[0].read(p), `=${n.value}`, p);
        assert.equal(clients[0].getPerms(p), n.perms.join(","), p);
      }
      assert.equal(d.tree.size, model.size);
    }),
    { numRuns: 200 },
  );
  if (process.env.XS_MODEL_STATS) console.log(seen);
  assert.ok(seen.commits > 50 && seen.eagain > 5, `too few transactions exercised: ${JSON.stringify(seen)}`);
});
