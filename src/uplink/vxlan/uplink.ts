/**
 * A VXLAN uplink on a VALE switch, as Domain-0 runs one per `bridges.<name>.uplinks[]`
 * entry: binds the UDP socket, attaches the adapter to the switch (netmap's bwrap, as
 * `vale-ctl -a` does), pumps received datagrams into the switch once per event-loop turn,
 * and ages the learnt MACs on a timer.
 */
import { createSocket, type Socket } from "node:dgram";
import { PvnetError } from "../../base/errors.js";
import type { ValeSwitch } from "../../vale/switch.js";
import { type Mem, privateMem } from "../../wire/mem.js";
import { NicPort } from "../nic-port.js";
import { VxlanAdapter, type VxlanAdapterOptions, type VxlanBatchSocket, type VxlanLink } from "./adapter.js";
import { parseRemote, type VxlanRemote, type VxlanUplinkConfig } from "./config.js";
import { VXLAN_COUNTERS, type VxlanCounter } from "./counters.js";
import { NATIVE_UDP_BATCH, type NativeUdp, type NativeWatch, nativeUdp } from "./native-udp.js";
import { VxlanSwitchPort } from "./switch-port.js";

export interface VxlanUplinkOptions {
  /** Shared memory for the counters (VXLAN_COUNTERS_BYTES), read by the host for status. */
  readonly counters?: SharedArrayBuffer;
  readonly slots?: number;
  readonly ageingMs?: number;
  /** Socket buffer sizes, bytes (the kernel may cap them at net.core.[rw]mem_max). */
  readonly socketBuffer?: number;
  /**
   * `native`: batched recvmmsg/sendmmsg (native-udp.ts), the default where the addon is
   * built; `dgram`: Node's socket, a datagram per call.
   */
  readonly socket?: "native" | "dgram";
}

/** An uplink as status shows it. */
export interface VxlanUplinkStatus {
  readonly type: "vxlan";
  readonly name: string;
  readonly local: string;
  readonly port: number;
  readonly vni: number;
  readonly mtu: number;
  /** How datagrams move: `native` (recvmmsg/sendmmsg, a batch per call) or `dgram` (Node's socket). */
  readonly socket: "native" | "dgram";
  readonly remotes: readonly string[];
  /** Inner MACs learnt and the remote address each was learnt from. */
  readonly learnt: readonly { mac: string; remote: string }[];
  readonly counters: Record<VxlanCounter, number>;
}

const DEFAULT_SOCKET_BUFFER = 4 << 20;
/** Static remotes given a connected socket of their own (the config allows as many). */
export const VXLAN_MAX_LINKS = 64;

/**
 * A socket bound to `local` on a port the kernel picks and connected to `r`, or null when
 * it cannot be (the bound socket then sends to that remote). Its source port differs from
 * the bound one, as the kernel's varies per flow (RFC 7348 asks only that receivers not
 * rely on it; peers reply to their configured port).
 */
async function connectLink(local: string, r: VxlanRemote, size: number): Promise<Socket | null> {
  const s = createSocket({ type: "udp4", recvBufferSize: size, sendBufferSize: size });
  try {
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(0, local, () =>
        // A failed connect (no route yet) comes only to this callback: then the bound
        // socket sends to that remote, rather than a link that cannot send at all.
        s.connect(r.port, r.address, (err?: Error) => {
          s.off("error", reject);
          if (err) reject(err);
          else resolve();
        }),
      );
    });
  } catch {
    s.close();
    return null;
  }
  // A refused send (ICMP unreachable) reaches the send's callback, which counts it.
  s.on("error", () => {});
  return s;
}

/** A received datagram's slot in the batch receive's memory: the largest datagram and then some. */
const RX_SLOT = 2112;
/** Batch receives per readiness callback: the socket's share of a turn, then others' (level-triggered, it comes back). */
const RX_ROUNDS = 4;

/** The batch socket's side of an uplink: its descriptor, poll handle and receive memory. */
class NativeSocket {
  readonly #udp: NativeUdp;
  readonly fd: number;
  #watch: NativeWatch | null = null;
  readonly #rx: Mem = privateMem(NATIVE_UDP_BATCH * RX_SLOT);
  readonly #rxBuf: Buffer = Buffer.from(this.#rx.buffer);
  readonly #meta = new Int32Array(3 * NATIVE_UDP_BATCH);

  constructor(udp: NativeUdp, fd: number) {
    this.#udp = udp;
    this.fd = fd;
  }

  /** The adapter's socket: sends straight from its pool. */
  batch(): VxlanBatchSocket {
    const udp = this.#udp;
    const fd = this.fd;
    return {
      send: (u8, off, size, ip, port, from, n) => udp.send(fd, u8, off, size, ip, port, from, n),
      wantWritable: (on) => {
        if (this.#watch !== null) udp.want(this.#watch, true, on);
      },
    };
  }

  /** Starts reading into `adapter` whenever the socket is readable. */
  start(adapter: VxlanAdapter): void {
    const udp = this.#udp;
    const fd = this.fd;
    const rx = this.#rx;
    const meta = this.#meta;
    this.#watch = udp.watch(fd, (readable, writable) => {
      // Runs from the event loop: nothing a datagram holds may throw out of here.
      try {
        if (writable) adapter.onWritable();
        if (!readable) return;
        for (let round = 0; round < RX_ROUNDS; round++) {
          const n = udp.recv(fd, rx.u8, 0, RX_SLOT, NATIVE_UDP_BATCH, meta);
          if (n <= 0) break;
          adapter.receiveBatch(rx, this.#rxBuf, meta, n, RX_SLOT);
          if (n < NATIVE_UDP_BATCH) break;
        }
      } catch {
        adapter.counters.f64[VXLAN_COUNTERS.indexOf("rx_errors")]++;
      }
    });
    udp.want(this.#watch, true, false);
  }

  close(): void {
    if (this.#watch !== null) this.#udp.unwatch(this.#watch);
    this.#watch = null;
    this.#udp.close(this.fd);
  }
}

/** The uplink's adapter on `sw`, over the socket(s) `io` names. */
function attachAdapter(
  sw: ValeSwitch,
  config: VxlanUplinkConfig,
  remotes: VxlanRemote[],
  index: number,
  o: VxlanUplinkOptions,
  io: Pick<VxlanAdapterOptions, "sender" | "links" | "batch">,
): { adapter: VxlanAdapter; port: NicPort } {
  const adapter = new VxlanAdapter({
    name: `vxlan${index}`,
    vni: config.vni,
    mtu: config.mtu,
    remotes,
    learntPort: config.port,
    slots: o.slots,
    ageingMs: o.ageingMs,
    counters: o.counters,
    ...io,
  });
  // The switch hands the uplink its frames by reference (switch-port.ts): one copy.
  const port = new NicPort(sw, adapter, (dev) => new VxlanSwitchPort(sw, dev, adapter));
  return { adapter, port };
}

export class VxlanUplink {
  readonly adapter: VxlanAdapter;
  readonly config: VxlanUplinkConfig;
  readonly #sock: Socket | null;
  /** Connected sockets, one per static remote that has one. */
  readonly #links: readonly Socket[];
  readonly #native: NativeSocket | null;
  readonly #port: NicPort;
  readonly #ageing: NodeJS.Timeout;
  #closed = false;

  private constructor(
    sock: Socket | NativeSocket,
    links: readonly Socket[],
    adapter: VxlanAdapter,
    port: NicPort,
    config: VxlanUplinkConfig,
  ) {
    this.#links = links;
    this.adapter = adapter;
    this.#port = port;
    this.config = config;
    if (sock instanceof NativeSocket) {
      this.#sock = null;
      this.#native = sock;
      sock.start(adapter);
    } else {
      this.#sock = sock;
      this.#native = null;
      const receive = (msg: Buffer, rinfo: { address: string }): void => adapter.receive(msg, rinfo.address);
      sock.on("message", receive);
      // A peer replying to the source port rather than its configured one is heard too.
      for (const l of links) l.on("message", receive);
    }
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
    const udp = o.socket === "dgram" ? null : nativeUdp;
    if (udp !== null) return VxlanUplink.#openNative(udp, sw, config, remotes, index, o, size);
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
    const links = await Promise.all(
      remotes.map((r, i) => (i < VXLAN_MAX_LINKS ? connectLink(config.local, r, size) : null)),
    );
    let made: { adapter: VxlanAdapter; port: NicPort };
    try {
      made = attachAdapter(sw, config, remotes, index, o, {
        sender: sock,
        links: links as (VxlanLink | null)[],
      });
    } catch (e) {
      sock.close();
      for (const l of links) l?.close();
      throw e;
    }
    const { adapter, port } = made;
    return new VxlanUplink(
      sock,
      links.filter((l) => l !== null),
      adapter,
      port,
      config,
    );
  }

  static #openNative(
    udp: NativeUdp,
    sw: ValeSwitch,
    config: VxlanUplinkConfig,
    remotes: VxlanRemote[],
    index: number,
    o: VxlanUplinkOptions,
    size: number,
  ): VxlanUplink {
    let fd: number;
    try {
      fd = udp.open(config.local, config.port, size);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "EADDRINUSE";
      throw new PvnetError(code, `vxlan: cannot bind ${config.local}:${config.port}: ${code}`);
    }
    const sock = new NativeSocket(udp, fd);
    let made: { adapter: VxlanAdapter; port: NicPort };
    try {
      made = attachAdapter(sw, config, remotes, index, o, { batch: sock.batch() });
    } catch (e) {
      sock.close();
      throw e;
    }
    const { adapter, port } = made;
    try {
      return new VxlanUplink(sock, [], adapter, port, config);
    } catch (e) {
      // The watch could not start: the port leaves the switch and the socket is closed.
      port.detach();
      sock.close();
      throw e;
    }
  }

  /** How this uplink's datagrams move. */
  get socket(): "native" | "dgram" {
    return this.#native !== null ? "native" : "dgram";
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
      socket: this.socket,
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
    this.#native?.close();
    const socks = this.#sock === null ? this.#links : [this.#sock, ...this.#links];
    await Promise.all(socks.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
