/**
 * The YAML pass shared by host files and guest files: the text parsed with a LineCounter
 * (so every node knows its line), parser errors and warnings turned into located issues,
 * and an `issue` maker that places any later issue (schema, rules) by its key path.
 */
import { LineCounter, parseDocument } from "yaml";
import { fieldName, type KeyPath, locate } from "./config-locate.js";
import type { ConfigIssue } from "./config-types.js";

/** Aliases may share nodes; this caps how far `*a` expansions can blow a small file up. */
const MAX_ALIAS_COUNT = 100;

/** Places an issue at `path` in the file (at its key rather than its value with `atKey`). */
export type IssueAt = (path: KeyPath, problem: string, expected: string, atKey?: boolean) => ConfigIssue;

export type YamlRead =
  | { readonly ok: true; readonly data: unknown; readonly issue: IssueAt }
  | { readonly ok: false; readonly issues: ConfigIssue[] };

/** Parses `text` (labelled `file` in issues); never throws for anything the text contains. */
export function readYaml(text: string, file: string): YamlRead {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    // Warnings are reported as issues below, not printed by the library on its own.
    logLevel: "error",
    version: "1.2",
  });
  const issue: IssueAt = (path, problem, expected, atKey = false) => {
    const at = locate(doc, lines, path, atKey);
    const rest = at.missing.length > 0 ? `${fieldName(at.missing)}: ` : "";
    return {
      file,
      line: at.line,
      col: at.col,
      path: at.found,
      field: fieldName(at.found),
      problem: rest + problem,
      expected,
    };
  };
  // A warning (an unknown tag, say) would make the value something the author did not
  // mean, so it fails the file as an error does.
  const yamlErrors = [...doc.errors, ...doc.warnings];
  if (yamlErrors.length > 0)
    return {
      ok: false,
      issues: yamlErrors.map((e) => {
        const pos = lines.linePos(e.pos[0]);
        const what = e.message.split("\n")[0] ?? "";
        return { file, line: pos.line, col: pos.col, path: [], field: "YAML", problem: what, expected: "" };
      }),
    };
  try {
    return { ok: true, data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), issue };
  } catch (e) {
    const what = e instanceof Error ? e.message : String(e);
    return { ok: false, issues: [{ ...issue([], what, ""), field: "YAML" }] };
  }
}
