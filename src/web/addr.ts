/** Where `pvnet up --web` listens, as the option gives it. */

/** Where `--web` alone listens. */
export const DEFAULT_WEB_ADDR = "127.0.0.1:8080";

export interface WebAddr {
  host: string;
  port: number;
}

/** "ADDR:PORT", "PORT" or "ADDR" ("[::1]:8080" for IPv6); a message saying what is wrong otherwise. */
export function parseWebAddr(s: string): WebAddr | string {
  const t = s.trim();
  let host = "127.0.0.1";
  let port = "8080";
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(t);
  if (v6 !== null) {
    host = v6[1]!;
    port = v6[2] ?? port;
  } else if (/^\d+$/.test(t)) port = t;
  else {
    const i = t.lastIndexOf(":");
    if (i >= 0) {
      host = t.slice(0, i);
      port = t.slice(i + 1);
    } else host = t;
  }
  if (host === "" || !/^[A-Za-z0-9.:-]+$/.test(host)) return `"${s}": the address is not a host name or IP`;
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return `"${s}": the port must be 0-65535`;
  return { host, port: Number(port) };
}
