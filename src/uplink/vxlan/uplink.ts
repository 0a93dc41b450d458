/**
 * A VXLAN uplink on a VALE switch, as Domain-0 runs one per `bridges.<name>.uplinks[]`
 * entry: binds the UDP socket, attaches the adapter to the switch (netmap's bwrap, as
 * `vale-ctl -a` does), pumps received datagrams into the switch once per event-loop turn,
 * and ages the learnt MACs on a timer.
 */
import { createSocket, type Socket } from "node:dgram";
import { PvnetError } from "../../base/errors.js";
import type { ValeSwitch } from "../../vale/switch.js";
import { NicPort } from "../nic-port.js";
import { VxlanAdapter } from "./adapter.js";
import { parseRemote, type VxlanRemote, type VxlanUplinkConfig } from "./config.js";
import { VXLAN_COUNTERS, type VxlanCounter } from "./counters.js";
import { VxlanSwitchPort } from "./switch-port.js";

export interface VxlanUplinkOptions {
  /** Shared memory for the counters (VXLAN_COUNTERS_BYTES), read by the host for status. */
  readonly counters?: SharedArrayBuffer;
  readonly slots?: number;
  readonly ageingMs?: number;
  /** Socket buffer sizes, bytes (the kernel may cap them at net.core.[rw]mem_max). */
  readonly socketBuffer?: number;
}

/** An uplink as status shows it. */
export interface VxlanUplinkStatus {
  readonly type: "vxlan";
  readonly name: string;
  readonly local: string;
  readonly port: number;
  readonly vni: number;
  readonly mtu: number;
  readonly remotes: readonly string[];
  /** Inner MACs learnt and the remote address each was learnt from. */
  readonly learnt: readonly { mac: string; remote: string }[];
  readonly counters: Record<VxlanCounter, number>;
}

const DEFAULT_SOCKET_BUFFER = 4 << 20;

export class VxlanUplink {
  readonly adapter: VxlanAdapter;
  readonly config: VxlanUplinkConfig;
  readonly #sock: Socket;
  readonly #port: NicPort;
  readonly #ageing: NodeJS.Timeout;
  #closed = false;

  private constructor(sock: Socket, adapter: VxlanAdapter, port: NicPort, config: VxlanUplinkConfig) {
    this.#sock = sock;
    this.adapter = adapter;
    this.#port = port;
    this.config = config;
    sock.on("message", (msg, rinfo) => adapter.receive(msg, rinfo.address));
    const ageMs = adapter.fdb.ageingMs;
    this.#ageing = setInterval(
      () => adapter.fdb.age(performance.now()),
      Math.max(100, Math.min(ageMs / 4, 30_000)),
    );
    this.#ageing.unref();
  }

  /**
   * Binds `config.local:config.port` and attaches to `sw` as port `<switch>:vxlan<index>`.
   * Rejects with a PvnetError naming the address when the socket cannot bind.
   */
  static async open(
    sw: ValeSwitch,
    config: VxlanUplinkConfig,
    index = 0,
    o: VxlanUplinkOptions = {},
  ): Promise<VxlanUplink> {
    const remotes: VxlanRemote[] = [];
    for (const s of config.remotes) {
      const r = parseRemote(s, config.port);
      if (typeof r === "string") throw new PvnetError("EINVAL", `vxlan remote ${r}`);
      remotes.push(r);
    }
    const size = o.socketBuffer ?? DEFAULT_SOCKET_BUFFER;
    const sock = createSocket({ type: "udp4", recvBufferSize: size, sendBufferSize: size });
    await new Promise<void>((resolve, reject) => {
      const fail = (e: Error): void => {
        sock.close();
        const code = (e as NodeJS.ErrnoException).code ?? "EADDRINUSE";
        reject(new PvnetError(code, `vxlan: cannot bind ${config.local}:${config.port}: ${code}`));
      };
      sock.once("error", fail);
      sock.bind(config.port, config.local, () => {
        sock.off("error", fail);
        resolve();
      });
    });
    // Late socket errors (an ICMP unreachable on a send) are the sends' callbacks' to count.
    sock.on("error", () => {});
    const adapter = new VxlanAdapter({
      name: `vxlan${index}`,
      vni: config.vni,
      mtu: config.mtu,
      remotes,
      learntPort: config.port,
      sender: sock,
      slots: o.slots,
      ageingMs: o.ageingMs,
      counters: o.counters,
    });
    let port: NicPort;
    try {
      // The switch hands the uplink its frames by reference (switch-port.ts): one copy.
      port = new NicPort(sw, adapter, (dev) => new VxlanSwitchPort(sw, dev, adapter));
    } catch (e) {
      sock.close();
      throw e;
    }
    return new VxlanUplink(sock, adapter, port, config);
  }

  /** The switch port's name (`vale0:vxlan0`). */
  get name(): string {
    return this.#port.name;
  }

  status(): VxlanUplinkStatus {
    const a = this.adapter;
    const f = a.counters.f64;
    const counters = {} as Record<VxlanCounter, number>;
    VXLAN_COUNTERS.forEach((n, i) => {
      counters[n] = f[i];
    });
    return {
      type: "vxlan",
      name: this.name,
      local: this.config.local,
      port: this.config.port,
      vni: this.config.vni,
      mtu: this.config.mtu,
      remotes: this.config.remotes,
      learnt: a.fdb.entries().map((e) => ({ mac: e.mac, remote: a.remotes[e.remote]?.address ?? "?" })),
      counters,
    };
  }

  /** Leaves the switch and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ageing);
    this.#port.detach();
    await new Promise<void>((resolve) => this.#sock.close(() => resolve()));
  }
}
