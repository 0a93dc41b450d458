/**
 * Random damage to the default host file never makes the loader throw, and every issue it
 * reports names a key path the document holds and a line inside the file.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type Document, isMap, isScalar, isSeq, type Node, parse, parseDocument, stringify } from "yaml";
import { type ConfigResult, DEFAULT_HOST_YAML, parseHostConfig } from "../../src/toolstack/config.js";
import { fieldName } from "../../src/toolstack/config-locate.js";

type Path = (string | number)[];
type Json = unknown;

/** Every path in a JSON tree, the root included. */
function pathsOf(v: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) pathsOf(v[i], [...at, i], out);
  } else if (v !== null && typeof v === "object")
    for (const [k, x] of Object.entries(v as Record<string, Json>)) pathsOf(x, [...at, k], out);
  return out;
}

function has(v: Json, path: readonly (string | number)[]): boolean {
  let node = v;
  for (const seg of path) {
    if (node === null || typeof node !== "object") return false;
    if (!Object.hasOwn(node as object, seg)) return false;
    node = (node as Record<string | number, Json>)[seg];
  }
  return true;
}

/** Values that reach the semantic rules, not only the schema's type checks. */
const nearMiss = fc.constantFrom<Json>(
  "Domain-0",
  "guest1",
  "vale0",
  "vale1",
  "br0",
  "00:16:3e:00:01:00",
  "01:00:5e:00:00:01",
  "00:00:00:00:00:00",
  "10.0.0.1/24",
  "10.0.1.1/24",
  "10.0.0.255/24",
  "10.0.0.1/16",
  "64M",
  "5G",
  0,
  1,
  4,
  8,
  9,
  -1,
  4096,
  true,
  null,
  {},
  [],
  [{}],
  "__proto__",
);
const value = fc.oneof(nearMiss, fc.jsonValue({ maxDepth: 2 }));

/** Problems the generator must provoke at least once per run. */
const RULES = [
  "already used by",
  "is a multicast",
  "no bridge named",
  "is already the name",
  "unknown key",
  "subnet",
];

/** Values near the valid ones, per key, for the edits aimed at the cross-field rules. */
const NEAR_BY_KEY: Record<string, Json[]> = {
  mac: [
    "00:16:3e:00:01:00",
    "00:16:3e:00:02:00",
    "01:00:5e:00:00:01",
    "00:00:00:00:00:00",
    "02:00:00:00:00:09",
  ],
  ip: [
    "10.0.0.1/24",
    "10.0.0.2/24",
    "10.0.1.1/24",
    "10.0.0.255/24",
    "10.0.0.0/24",
    "10.0.0.3/16",
    "10.0.0.3/31",
  ],
  bridge: ["vale0", "vale1", "br0"],
  name: ["Domain-0", "guest1", "guest2", "guest3"],
};

type Op =
  | { k: "delete"; pick: number }
  | { k: "replace"; pick: number; v: Json }
  | { k: "duplicate"; pick: number }
  | { k: "rename"; pick: number; name: string }
  | { k: "set"; key: string; pick: number; v: Json }
  | { k: "unset"; key: string; pick: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  // Removes a key whose default then stands in (reported at the enclosing entry).
  fc.record({
    k: fc.constant("unset" as const),
    key: fc.constantFrom("mac", "bridge", "vale0", "bridges"),
    pick: fc.nat(),
  }),
  // Aimed at the keys the cross-field rules read, so those rules are reached often.
  ...Object.entries(NEAR_BY_KEY).map(([key, vs]) =>
    fc.record({
      k: fc.constant("set" as const),
      key: fc.constant(key),
      pick: fc.nat(),
      v: fc.constantFrom(...vs),
    }),
  ),
  fc.record({ k: fc.constant("delete" as const), pick: fc.nat() }),
  fc.record({ k: fc.constant("replace" as const), pick: fc.nat(), v: value }),
  fc.record({ k: fc.constant("duplicate" as const), pick: fc.nat() }),
  fc.record({
    k: fc.constant("rename" as const),
    pick: fc.nat(),
    name: fc.oneof(
      fc.constantFrom("vale1", "mac", "ip", "sg", "name", "__proto__", "constructor"),
      fc.string(),
    ),
  }),
);

/** Applies one edit to a non-root node picked among all the document's nodes. */
function apply(root: Json, o: Op): void {
  const paths = pathsOf(root).filter(
    (p) => p.length > 0 && ((o.k !== "set" && o.k !== "unset") || p[p.length - 1] === o.key),
  );
  if (paths.length === 0) return;
  const path = paths[o.pick % paths.length];
  const parent = path.slice(0, -1).reduce<Json>((n, s) => (n as Record<string | number, Json>)[s], root) as
    | Json[]
    | Record<string, Json>;
  const last = path[path.length - 1];
  if (Array.isArray(parent)) {
    const i = last as number;
    if (o.k === "delete" || o.k === "unset") parent.splice(i, 1);
    else if (o.k === "replace" || o.k === "set") parent[i] = structuredClone(o.v);
    else parent.splice(i, 0, structuredClone(parent[i]));
    return;
  }
  const key = String(last);
  // Rebuilt in order, with defineProperty so that a key like __proto__ stays a plain key.
  const entries = Object.entries(parent);
  for (const k of Object.keys(parent)) delete parent[k];
  const put = (k: string, v: Json): void => {
    Object.defineProperty(parent, k, { value: v, enumerable: true, writable: true, configurable: true });
  };
  for (const [k, v] of entries) {
    if (k !== key) put(k, v);
    else if (o.k === "replace" || o.k === "set") put(k, structuredClone(o.v));
    else if (o.k === "duplicate") {
      put(k, v);
      put(`${k}2`, structuredClone(v));
    } else if (o.k === "rename") put(o.name, v);
    // delete, unset: left out
  }
}

/** The text span [start, end] of the entry at `path` (its key too), as yaml's own getIn finds it. */
function spanOf(doc: Document, path: readonly (string | number)[]): [number, number] | undefined {
  if (path.length === 0) return [0, Number.MAX_SAFE_INTEGER];
  const parent = doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
    const k = pair?.key as Node | undefined;
    const v = (pair?.value ?? pair?.key) as Node | undefined;
    return k?.range && v?.range ? [k.range[0], v.range[2]] : undefined;
  }
  if (isSeq(parent)) {
    const item = parent.items[last as number] as Node | undefined;
    return item?.range ? [item.range[0], item.range[2]] : undefined;
  }
  return undefined; // behind an alias: not checked
}

function check(text: string, r: ConfigResult): "ok" | "yaml" | "schema" {
  if (r.ok) {
    assert.ok(Object.isFrozen(r.config.domains));
    return "ok";
  }
  const lines = text.split("\n").length;
  const doc = parseDocument(text, { logLevel: "error" });
  const data = (() => {
    try {
      return doc.toJS();
    } catch {
      return undefined;
    }
  })();
  const lineStart = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStart.push(i + 1);
  assert.ok(r.issues.length > 0);
  for (const i of r.issues) {
    assert.ok(i.line >= 1 && i.line <= lines, `line ${i.line} of ${lines}`);
    assert.ok(i.col >= 1, `col ${i.col}`);
    if (i.field === "YAML") continue;
    assert.equal(i.field, fieldName(i.path));
    assert.ok(has(data, i.path), `${i.field} is not in the document`);
    const span = spanOf(doc, i.path);
    const offset = lineStart[i.line - 1] + i.col - 1;
    if (span !== undefined)
      assert.ok(
        span[0] <= offset && offset <= span[1],
        `${i.field} at ${i.line}:${i.col}, outside its entry`,
      );
    assert.ok(i.problem.length > 0);
  }
  return r.issues[0].field === "YAML" ? "yaml" : "schema";
}

test("random edits of the default host's data: valid, or issues at present fields and real lines; never a throw", () => {
  const seen = { ok: 0, yaml: 0, schema: 0 };
  const reached = new Set<string>();
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 4 }), (ops) => {
      const data = parse(DEFAULT_HOST_YAML) as Json;
      for (const o of ops) apply(data, o);
      const text = stringify(data);
      const r = parseHostConfig(text, "m.yaml");
      seen[check(text, r)]++;
      if (!r.ok)
        for (const i of r.issues) for (const rule of RULES) if (i.problem.includes(rule)) reached.add(rule);
    }),
    { numRuns: 300 },
  );
  // The generator must reach both outcomes and the semantic rules, not only type errors.
  assert.ok(seen.ok > 20 && seen.schema > 100, JSON.stringify(seen));
  assert.deepEqual([...reached].sort(), [...RULES].sort(), "every rule reached");
});

test("random edits of the default host's text (lines deleted, duplicated, spliced): never a throw, issues in range", () => {
  const base = DEFAULT_HOST_YAML.split("\n");
  const seen = { ok: 0, yaml: 0, schema: 0 };
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          k: fc.constantFrom("delete", "duplicate", "indent", "insert"),
          at: fc.nat(),
          s: fc.string(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      (edits) => {
        const lines = [...base];
        for (const e of edits) {
          const i = e.at % lines.length;
          if (e.k === "delete") lines.splice(i, 1);
          else if (e.k === "duplicate") lines.splice(i, 0, lines[i]);
          else if (e.k === "indent") lines[i] = ` ${lines[i]}`;
          else lines.splice(i, 0, e.s);
        }
        const text = lines.join("\n");
        seen[check(text, parseHostConfig(text, "t.yaml"))]++;
      },
    ),
    { numRuns: 200 },
  );
  assert.ok(seen.ok > 10 && seen.yaml > 20, JSON.stringify(seen));
});
