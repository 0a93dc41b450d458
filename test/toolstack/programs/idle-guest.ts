/**
 * A guest that runs but never probes its vifs: its frontends stay where the toolstack left
 * them, so boot's wait for Connected has to time out (host.test.ts).
 */
import type { Domain } from "../../../src/hv/domain.js";

export default async function main(_dom: Domain, _args: unknown): Promise<void> {}
