/** pkt-gen's numbers and lines: normalised units (14.880 Mpps) unless -N asks for raw ones. */
export function norm(x: number, raw: boolean): string {
  if (raw) return x.toFixed(0);
  const units = ["", "K", "M", "G", "T"];
  let u = 0;
  while (x >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return `${x.toFixed(3)} ${units[u]}`;
}

export interface Totals {
  packets: number;
  bytes: number;
  events: number;
}

/** The line printed every interval. */
export function intervalLine(d: Totals, usec: number, minSpace: number, raw: boolean): string {
  const secs = usec / 1e6;
  const pps = d.packets / secs;
  const bps = (d.bytes * 8) / secs;
  const avgBatch = d.events > 0 ? d.packets / d.events : 0;
  return (
    `${norm(pps, raw)}pps (${norm(d.packets, raw)}pkts ${norm(bps, raw)}bps in ${Math.round(usec)} usec) ` +
    `${avgBatch.toFixed(2)} avg_batch ${minSpace} min_space`
  );
}

/** The two closing lines. */
export function finalLines(sent: boolean, t: Totals, len: number, seconds: number, raw: boolean): string[] {
  const pps = seconds > 0 ? t.packets / seconds : 0;
  const bps = seconds > 0 ? (t.bytes * 8) / seconds : 0;
  const rawBps = seconds > 0 ? ((t.bytes + 24 * t.packets) * 8) / seconds : 0;
  const avgBatch = t.events > 0 ? t.packets / t.events : 0;
  return [
    `${sent ? "Sent" : "Received"} ${t.packets} packets ${t.bytes} bytes ${t.events} events ${len} bytes each in ${seconds.toFixed(2)} seconds.`,
    `Speed: ${norm(pps, raw)}pps Bandwidth: ${norm(bps, raw)}bps (raw ${norm(rawBps, raw)}bps). Average batch: ${avgBatch.toFixed(2)} pkts`,
  ];
}

/** The receiver's closing line: what the switch could not deliver to it (its RX ring was full). */
export function dropsLine(drops: number, port: string): string {
  return `Dropped ${drops} packets on the way to ${port} (its RX ring was full)`;
}

/**
 * A monitor's closing line: the copies its ring had no room for. netmap drops a monitor's
 * excess traffic rather than slow the port it watches; pvnet's monitors count it.
 */
export function monitorDropsLine(drops: number, port: string): string {
  return `Dropped ${drops} packets on ${port} (excess traffic: the monitor's ring was full)`;
}
