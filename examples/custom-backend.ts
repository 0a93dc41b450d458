/**
 * A backend of your own serving pvnet guests. The host boots Domain-0 and two pvnet guests
 * that ping each other, but their switch (vale0) carries no frame: this file's default export
 * replaces the hotplug step (vif-bridge) in Domain-0, takes each vif netback makes as a
 * stream of frames (`VifFrames`), copies every frame the guests send to the other vif (a
 * two-port wire) and mirrors it into a pcap capture file. This one file is the main
 * program (it boots the host, then reads the capture) and Domain-0's hotplug module.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMainThread } from "node:worker_threads";
import { type NetbackVif, VifFrames } from "pvnet/netback";
import { Host, type HotplugContext, parseHostConfig } from "pvnet/toolstack";
import { PcapWriter, privateMem, readPcap } from "pvnet/wire";

/** Both threads compute the same name: they are one process. */
const CAPTURE = join(tmpdir(), `pvnet-custom-backend-${process.pid}.pcap`);

const HOST = `
domains:
  - name: Domain-0
  - name: a
    vifs: [{ ip: 10.0.0.1/24, bridge: vale0 }]
  - name: b
    vifs: [{ ip: 10.0.0.2/24, bridge: vale0 }]
bridges:
  vale0: {}
`;

// --- Domain-0: the hotplug module -------------------------------------------------------

const vifs: VifFrames[] = [];
const record = privateMem(70_000);
let capture: { fd: number; pcap: PcapWriter } | null = null;

export default function hotplug(vif: NetbackVif, ctx: HotplugContext): void {
  if (capture === null) {
    const fd = openSync(CAPTURE, "w");
    const pcap = new PcapWriter(record);
    writeSync(fd, record.u8, 0, pcap.length); // the file header
    pcap.clear();
    capture = { fd, pcap };
    ctx.dom.onShutdown(() => closeSync(fd));
  }
  const c = capture;
  const frames = VifFrames.open(vif);
  vifs.push(frames);
  frames.listen((frame, off, len) => {
    const now = Date.now();
    record.u8.set(frame.subarray(off, off + len), 65_000);
    if (c.pcap.writePacket(Math.floor(now / 1000), (now % 1000) * 1000, record, 65_000, len)) {
      writeSync(c.fd, record.u8, 0, c.pcap.length);
      c.pcap.clear();
    }
    for (const other of vifs) if (other !== frames) other.write(frame, off, len);
  });
}

// --- the main program -------------------------------------------------------------------

if (isMainThread) {
  const parsed = parseHostConfig(HOST, "custom-backend.yaml");
  if (!parsed.ok) throw new Error(`host description: ${parsed.issues[0]?.problem}`);
  const host = await Host.boot(parsed.config, {
    socketPath: null,
    hotplug: new URL(import.meta.url),
    ping: { intervalMs: 100 },
  });
  const t0 = Date.now();
  const answered = () => host.status().pings.filter((p) => p.kind === "icmp" && p.received > 0);
  while (answered().length < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
  for (const p of answered().sort((x, y) => x.from.localeCompare(y.from)))
    console.log(`ping ${p.from} -> ${p.to} answered through the custom backend`);
  await host.shutdown();

  const file = readPcap(new Uint8Array(readFileSync(CAPTURE)));
  rmSync(CAPTURE, { force: true });
  if (!("records" in file)) throw new Error(`capture: ${JSON.stringify(file)}`);
  const kinds = { arp: 0, icmp: 0, udp: 0, other: 0 };
  for (const r of file.records) {
    const d = r.data;
    const type = (d[12]! << 8) | d[13]!;
    if (type === 0x0806) kinds.arp++;
    else if (type === 0x0800 && d[23] === 1) kinds.icmp++;
    else if (type === 0x0800 && d[23] === 17) kinds.udp++;
    else kinds.other++;
  }
  console.log(
    `capture: ${file.records.length} frames (ARP ${kinds.arp}, ICMP ${kinds.icmp}, UDP ${kinds.udp}, other ${kinds.other})`,
  );
}
