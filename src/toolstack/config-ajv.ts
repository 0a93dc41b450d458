/**
 * The schema validator (ajv, compiled once) and the translation of its errors into
 * pvnet's "what is wrong (what was expected)" with a key path the locator can find.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import type { KeyPath } from "./config-locate.js";
import { HOST_SCHEMA } from "./config-schema.js";

export interface SchemaIssue {
  readonly path: KeyPath;
  /** Point at the key rather than its value (unknown or bad key names). */
  readonly atKey: boolean;
  readonly problem: string;
  readonly expected: string;
}

let compiled: ValidateFunction | undefined;

/** ajv compiles the schema to code: once per process, on first use. */
function validator(): ValidateFunction {
  if (compiled === undefined) {
    const ajv = new Ajv({
      allErrors: true,
      useDefaults: true,
      verbose: true,
      strict: true,
      allowUnionTypes: true,
    });
    ajv.addKeyword({ keyword: "expected", schemaType: "string" });
    addFormats.default(ajv, ["ipv4"]);
    compiled = ajv.compile(HOST_SCHEMA);
  }
  return compiled;
}

/**
 * Validates `data` in place: on success it has every default filled in. Returns the
 * problems, sorted as ajv found them (the caller sorts by line).
 */
export function schemaIssues(data: unknown): SchemaIssue[] {
  const validate = validator();
  if (validate(data)) return [];
  const out: SchemaIssue[] = [];
  for (const e of validate.errors ?? []) {
    const issue = translate(e, data);
    if (issue !== undefined) out.push(issue);
  }
  return out;
}

/** JSON pointer to key path; array indexes become numbers (checked against the data). */
function pathOf(pointer: string, data: unknown): (string | number)[] {
  if (pointer === "") return [];
  const out: (string | number)[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split("/")) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) {
      const i = Number(seg);
      out.push(i);
      node = node[i];
    } else {
      out.push(seg);
      node = node !== null && typeof node === "object" ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}

/** A value as a message quotes it: short, and never a whole subtree. */
export function show(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  const s = typeof v === "string" ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a number";
  if (typeof v === "string") return "a string";
  return `a ${typeof v}`;
}

function expectedOf(schema: unknown): string {
  const x = (schema as { expected?: unknown } | undefined)?.expected;
  return typeof x === "string" ? x : "";
}

function translate(e: ErrorObject, root: unknown): SchemaIssue | undefined {
  const path = pathOf(e.instancePath, root);
  const parent = e.parentSchema as { properties?: Record<string, unknown> } | undefined;
  const here = expectedOf(parent);
  const p = e.params as Record<string, unknown>;
  // A bad key name (propertyNames): ajv reports it twice, once per failed rule under
  // propertyNames with `propertyName` set, then once more as "propertyNames"; keep the first.
  // An if/then/else (uplink variants) adds "must match then schema" to the branch's own errors.
  if (e.keyword === "propertyNames" || e.keyword === "if") return undefined;
  if (e.propertyName !== undefined) {
    return {
      path: [...path, e.propertyName],
      atKey: true,
      problem: `${JSON.stringify(e.propertyName)} is not a valid name`,
      expected: here,
    };
  }
  switch (e.keyword) {
    case "required": {
      const key = String(p.missingProperty);
      const child = expectedOf(parent?.properties?.[key]);
      return { path, atKey: false, problem: `missing key "${key}"`, expected: child };
    }
    case "additionalProperties": {
      const key = String(p.additionalProperty);
      const known = Object.keys(parent?.properties ?? {});
      return {
        path: [...path, key],
        atKey: true,
        problem: `unknown key "${key}"`,
        expected: known.length > 0 ? `one of: ${known.join(", ")}` : "no keys",
      };
    }
    case "type": {
      const d = e.data;
      const what = d === null ? "no value" : typeof d === "object" ? kind(d) : `${show(d)} is ${kind(d)}`;
      return { path, atKey: false, problem: what, expected: here };
    }
    case "minimum":
    case "maximum":
      return { path, atKey: false, problem: `${show(e.data)} is out of range`, expected: here };
    case "pattern":
    case "format":
    case "const":
    case "enum":
    case "minLength":
      return { path, atKey: false, problem: `${show(e.data)} is not valid`, expected: here };
    case "minItems":
    case "maxItems":
    case "maxProperties": {
      const n = Array.isArray(e.data) ? e.data.length : Object.keys(e.data as object).length;
      const word = e.keyword === "minItems" ? "at least" : "at most";
      return {
        path,
        atKey: false,
        problem: `${n} entries, ${word} ${String(p.limit)} allowed`,
        expected: here,
      };
    }
    default:
      return { path, atKey: false, problem: e.message ?? e.keyword, expected: here };
  }
}
