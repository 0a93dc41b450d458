/**
 * Maps a key path in the parsed data back to where the YAML wrote it. The path may run
 * past what the document holds (a defaulted key, a missing one): it is cut at the deepest
 * node present, and the cut-off part is returned so a message can still name it.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";

export type KeyPath = readonly (string | number)[];

export interface Located {
  readonly line: number;
  readonly col: number;
  /** The part of the path the document holds. */
  readonly found: KeyPath;
  /** The rest (empty when the whole path was found). */
  readonly missing: KeyPath;
}

type Range = readonly [number, number, number];

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/**
 * Where `path` is. With `atKey`, a path ending at a mapping entry points at the entry's
 * key (an unknown key is reported where it is written, not at its value).
 */
export function locate(doc: Document, lines: LineCounter, path: KeyPath, atKey = false): Located {
  let node: unknown = doc.contents;
  let range: Range = (doc.contents as Node | null)?.range ?? [0, 0, 0];
  let depth = 0;
  // Aliases can point at each other; a path is short, so its length bounds the walk.
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let nextRange: Range | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(seg));
      if (pair === undefined) break;
      const keyRange = (pair.key as Node | null)?.range ?? undefined;
      const valueRange = (pair.value as Node | null)?.range ?? undefined;
      const last = depth === path.length - 1;
      nextRange = atKey && last ? (keyRange ?? valueRange) : (valueRange ?? keyRange);
      next = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      next = node.items[seg];
      if (next === undefined) break;
      nextRange = (next as Node | null)?.range ?? undefined;
    } else {
      break;
    }
    if (nextRange !== undefined) range = nextRange;
    node = next;
    depth++;
  }
  const pos = lines.linePos(range[0]);
  return { line: pos.line, col: pos.col, found: path.slice(0, depth), missing: path.slice(depth) };
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `["domains", 1, "vifs", 0, "mac"]` as `domains[1].vifs[0].mac`. */
export function fieldName(path: KeyPath): string {
  if (path.length === 0) return "(top level)";
  let s = "";
  for (const seg of path) {
    if (typeof seg === "number") s += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) s += s === "" ? seg : `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}
