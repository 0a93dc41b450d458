/**
 * A guest file for `pvnet create FILE`: one guest, written as a guest entry of a host file
 * (`name`, `memory`, `vifs`), checked by the same schema and rules with the same messages,
 * its fields named from the guest file's top (`vifs[0].mac`) with their line and column.
 *
 * The entry is validated inside a host made for the purpose (Domain-0, this guest, and the
 * running host's bridges), so every rule a host file obeys applies word for word; the
 * checks against the running host (a free name, MAC and address) come after, in create.
 */
import { schemaIssues } from "./config-ajv.js";
import type { KeyPath } from "./config-locate.js";
import { checkRules, DOM0_NAME, type RawHost } from "./config-semantic.js";
import type { ConfigIssue, DomainConfig } from "./config-types.js";
import { readYaml } from "./config-yaml.js";

export type GuestConfigResult =
  | {
      readonly ok: true;
      /** The guest, its domid still to be given (-1 here). */
      readonly guest: DomainConfig;
      /** Devids of the vifs the file gave no `mac`: create picks one no vif of the host has. */
      readonly derivedMacs: readonly number[];
    }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** Parses and validates one guest file's text against the running host's `bridges`. */
export function parseGuestConfig(text: string, file: string, bridges: readonly string[]): GuestConfigResult {
  const fail = (issues: ConfigIssue[]): GuestConfigResult => ({
    ok: false,
    issues: issues.sort((x, y) => x.line - y.line || x.col - y.col),
  });
  const read = readYaml(text, file);
  if (!read.ok) return fail(read.issues);
  const { data, issue } = read;
  const given = rawVifs(data);
  const host = {
    domains: [{ name: DOM0_NAME }, data],
    bridges: Object.fromEntries(bridges.map((b) => [b, {}])),
  };
  // The host's paths name the guest as domains[1]: strip that to name the file's own fields.
  const own = (p: KeyPath): KeyPath => (p[0] === "domains" && p[1] === 1 ? p.slice(2) : []);
  const bySchema = schemaIssues(host);
  if (bySchema.length > 0)
    return fail(bySchema.map((s) => issue(own(s.path), s.problem, s.expected, s.atKey)));
  const rules = checkRules(host as RawHost);
  // A rule that names another field names it by the host's path: the guest's own here.
  const ownText = (t: string): string => t.replaceAll("domains[1].", "");
  if (rules.config === undefined)
    return fail(rules.issues.map((r) => issue(own(r.path), ownText(r.problem), ownText(r.expected))));
  const guest = rules.config.domains[1]!;
  return {
    ok: true,
    guest: { ...guest, domid: -1 },
    derivedMacs: guest.vifs.filter((v) => given[v.devid]?.mac === undefined).map((v) => v.devid),
  };
}

/** The vifs as written (before defaults), to tell a given MAC from a derived one. */
function rawVifs(data: unknown): { mac?: unknown }[] {
  const v = (data as { vifs?: unknown } | null)?.vifs;
  return Array.isArray(v) ? v.map((x) => (typeof x === "object" && x !== null ? x : {})) : [];
}
