/**
 * The relative links of a Markdown file (`[text](target)`), for checking that a packed
 * tarball holds every file its README and docs point to. Web links, mail links and
 * in-page anchors are left out; a link's own anchor is cut off.
 */
import { posix } from "node:path";

/** Relative link targets in `md`, resolved against `dir` (the file's folder in the package, "" for the root). */
export function relativeLinks(md: string, dir: string): string[] {
  const out: string[] = [];
  // Code blocks and spans may hold text that looks like a link; they are not links.
  const text = md.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
    const path = target.split("#")[0]!;
    out.push(posix.normalize(posix.join(dir, path)));
  }
  return out;
}

/**
 * The links in `links` that `files` (the tarball's paths) does not hold: a link to a
 * folder (ending in "/") needs at least one file under it; a link that climbs out of the
 * package is always missing.
 */
export function missingLinks(links: readonly string[], files: ReadonlySet<string>): string[] {
  return links.filter((l) => {
    if (l.startsWith("../") || l === "..") return true;
    if (l.endsWith("/")) return ![...files].some((f) => f.startsWith(l));
    return !files.has(l);
  });
}
