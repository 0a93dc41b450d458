/**
 * The far end of `pvnet bench uplink`, in a thread of its own: a bare Node UDP socket that
 * counts what reaches it (datagrams and bytes in shared words), or blasts one prepared
 * datagram at a target in batches, one batch per event-loop turn, until told to stop.
 */
import { createSocket } from "node:dgram";
import { parentPort, workerData } from "node:worker_threads";

interface PeerData {
  mode: "count" | "blast";
  /** Float64: [0] datagrams, [1] bytes, [2] stop flag (blast). */
  ctl: SharedArrayBuffer;
  datagram?: Uint8Array;
  target?: number;
  batch?: number;
}

const d = workerData as PeerData;
const f = new Float64Array(d.ctl);
const sock = createSocket({ type: "udp4", recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
sock.on("error", () => {});
sock.bind(0, "127.0.0.1", () => {
  parentPort?.postMessage({ port: sock.address().port });
  if (d.mode === "count") {
    sock.on("message", (m) => {
      f[0]++;
      f[1] += m.length;
    });
    return;
  }
  const msg = Buffer.from(d.datagram ?? new Uint8Array(0));
  const batch = d.batch ?? 64;
  const target = d.target ?? 0;
  let inFlight = 0;
  const done = (): void => {
    inFlight--;
    f[0]++;
  };
  const turn = (): void => {
    if (f[2] !== 0) return;
    // Bounded: a batch more only once the last one's sends are on their way.
    if (inFlight < 4 * batch)
      for (let i = 0; i < batch; i++) {
        inFlight++;
        sock.send(msg, 0, msg.length, target, "127.0.0.1", done);
      }
    setImmediate(turn);
  };
  turn();
});
parentPort?.on("message", (m: unknown) => {
  if (m === "close") sock.close(() => process.exit(0));
});
