/**
 * A host booted from a YAML string, as `pvnet up host.yaml` boots a file: Domain-0 (the
 * driver domain: xenstored, the VALE switch, netback) and two guests that ping each other
 * once a second. Prints each vif's xenbus states and the first ping results, then shuts
 * down in order (frontends, backends, workers).
 */
import { Host, type HostStatus, parseHostConfig } from "pvnet/toolstack";

const YAML = `
domains:
  - name: Domain-0
    memory: 32M
  - name: web
    vifs: [{ ip: 192.168.7.10/24, bridge: vale1 }]
  - name: client
    vifs: [{ ip: 192.168.7.20/24, bridge: vale1, ring-page-order: 1 }]
bridges:
  vale1: {}
`;

const parsed = parseHostConfig(YAML, "inline.yaml");
if (!parsed.ok) {
  console.error(`inline.yaml: ${parsed.issues[0]?.field}: ${parsed.issues[0]?.problem}`);
  process.exit(1);
}
const host = await Host.boot(parsed.config, { socketPath: null, ping: { intervalMs: 100 } });

/** Until every guest got a ping answered (or 5 s went by). */
async function settled(): Promise<HostStatus> {
  for (const t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 50))) {
    const s = host.status();
    const answered = s.pings.filter((p) => p.kind === "icmp" && p.received > 0).length;
    if (answered === 2 || Date.now() - t0 > 5000) return s;
  }
}

const status = await settled();
for (const d of status.domains) console.log(`domain ${d.domid} ${d.name}: ${d.state}`);
for (const v of status.vifs)
  console.log(
    `${v.name} ${v.domain} ${v.ip}: frontend ${v.frontend.stateName}, backend ${v.backend.stateName}, ring order ${v.ringPageOrder}`,
  );
for (const p of status.pings.filter((p) => p.kind === "icmp").sort((a, b) => a.from.localeCompare(b.from)))
  console.log(`ping ${p.from} -> ${p.to}: ${p.received > 0 ? "answered" : "no answer"}`);
await host.shutdown();
console.log("host shut down");
