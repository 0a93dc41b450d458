/**
 * `pvnet create FILE`: the guest file is read here (a path is the user's, relative to
 * their working directory) and its text sent to the running host, which validates it
 * against its own bridges and addresses and answers with the guest, Connected.
 */
import { readFileSync } from "node:fs";
import { PvnetError } from "../base/errors.js";
import { readProblem } from "../toolstack/config.js";
import { controlRequest, defaultControlSocket } from "./control-client.js";
import { usage } from "./style.js";

export async function createFromFile(
  file: string,
  o: { control?: string; json?: boolean; name?: string; ip?: string },
): Promise<void> {
  if (o.name !== undefined || o.ip !== undefined)
    throw usage("a guest file and --name/--ip together", "the file names the guest and its vifs");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PvnetError("CONFIG", `${file}: ${readProblem(e)} (expected a readable YAML guest file)`);
  }
  const r = await controlRequest(o.control ?? defaultControlSocket(), { op: "create-file", file, text });
  const vifs = r.vifs as { vif: string; mac: string; ip: string | null; bridge: string }[];
  if (o.json === true) {
    process.stdout.write(`${JSON.stringify({ domain: r.domain, id: r.id, vifs }, null, 2)}\n`);
    return;
  }
  const each = vifs.map((v) => `${v.vif} ${v.mac}${v.ip === null ? "" : ` ${v.ip}`} on ${v.bridge}`);
  process.stdout.write(
    `created ${String(r.domain)} (domain ${String(r.id)})${each.length === 0 ? ", no vifs" : `: ${each.join("; ")}, Connected`}\n`,
  );
}
