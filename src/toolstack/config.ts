/**
 * Host files: YAML text in, a frozen HostConfig or a list of located issues out.
 *
 * Three passes, each stopping the next when it finds something: the YAML parser (`yaml`,
 * with a LineCounter so every node knows its line), the JSON Schema (ajv, which also fills
 * defaults), then the cross-field rules. Every issue names the field and its place in the
 * file; nothing here throws for anything a file contains.
 */
import { readFileSync } from "node:fs";
import { PvnetError } from "../base/errors.js";
import { schemaIssues } from "./config-ajv.js";
import { DEFAULT_HOST_YAML } from "./config-default.js";
import { checkRules, type RawHost } from "./config-semantic.js";
import type { ConfigIssue, ConfigResult, HostConfig } from "./config-types.js";
import { readYaml } from "./config-yaml.js";

export { DEFAULT_HOST_YAML } from "./config-default.js";
export type * from "./config-types.js";

/** Parses and validates one host file's text. `file` only labels the issues. */
export function parseHostConfig(text: string, file: string): ConfigResult {
  const read = readYaml(text, file);
  if (!read.ok) return fail(read.issues);
  const { data, issue } = read;

  const bySchema = schemaIssues(data);
  if (bySchema.length > 0) return fail(bySchema.map((s) => issue(s.path, s.problem, s.expected, s.atKey)));

  const rules = checkRules(data as RawHost);
  if (rules.config === undefined) return fail(rules.issues.map((r) => issue(r.path, r.problem, r.expected)));
  return { ok: true, config: rules.config };
}

function fail(issues: ConfigIssue[]): ConfigResult {
  issues.sort((a, b) => a.line - b.line || a.col - b.col);
  return { ok: false, issues };
}

/** `FILE:LINE:COL: field: what is wrong (what was expected)`. */
export function formatIssue(i: ConfigIssue): string {
  const tail = i.expected === "" ? "" : ` (expected ${i.expected})`;
  return `${i.file}:${i.line}:${i.col}: ${i.field}: ${i.problem}${tail}`;
}

/** The embedded default host, parsed once. */
export function defaultHostConfig(): HostConfig {
  const r = parseHostConfig(DEFAULT_HOST_YAML, "(default)");
  if (!r.ok) throw new PvnetError("EBUG", `the default host does not validate: ${formatIssue(r.issues[0])}`);
  return r.config;
}

/**
 * Reads and validates a host file; throws PvnetError CONFIG naming the first issue (and
 * how many more), for callers that only need go or no-go. `pvnet config check` lists all.
 */
export function loadHostConfig(file: string): HostConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PvnetError("CONFIG", `${file}: ${readProblem(e)} (expected a readable YAML host file)`);
  }
  const r = parseHostConfig(text, file);
  if (r.ok) return r.config;
  const more = r.issues.length > 1 ? ` (and ${r.issues.length - 1} more: pvnet config check ${file})` : "";
  throw new PvnetError("CONFIG", `${formatIssue(r.issues[0])}${more}`, { file, issues: r.issues.length });
}

/** Why a file could not be read, in words, with the errno code. */
export function readProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return "no such file (ENOENT)";
    case "EACCES":
      return "permission denied (EACCES)";
    case "EISDIR":
      return "is a directory (EISDIR)";
    default:
      return `cannot read: ${e instanceof Error ? e.message : String(e)}`;
  }
}
