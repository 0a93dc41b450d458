/**
 * The far end of `pvnet bench uplink`, a process of its own (so the bench process's CPU
 * time is its sender's or receiver's alone): a bare Node UDP socket that counts what
 * reaches it, or blasts one prepared datagram at a target in batches, one batch per
 * event-loop turn. Driven over the fork IPC channel: `{mode, ...}` starts it (it answers
 * `{port}`), `"count"` asks for the datagrams seen or sent (`{count}`).
 */
import { createSocket } from "node:dgram";

interface PeerStart {
  mode: "count" | "blast";
  datagram?: number[];
  target?: number;
  batch?: number;
}

let count = 0;
const sock = createSocket({ type: "udp4", recvBufferSize: 8 << 20, sendBufferSize: 8 << 20 });
sock.on("error", () => {});

function start(d: PeerStart): void {
  sock.bind(0, "127.0.0.1", () => {
    process.send?.({ port: sock.address().port });
    if (d.mode === "count") {
      sock.on("message", () => {
        count++;
      });
      return;
    }
    const msg = Buffer.from(d.datagram ?? []);
    const batch = d.batch ?? 64;
    const target = d.target ?? 0;
    let inFlight = 0;
    const done = (): void => {
      inFlight--;
      count++;
    };
    const turn = (): void => {
      // Bounded: a batch more only once the earlier ones are on their way.
      if (inFlight < 4 * batch)
        for (let i = 0; i < batch; i++) {
          inFlight++;
          sock.send(msg, 0, msg.length, target, "127.0.0.1", done);
        }
      setImmediate(turn);
    };
    turn();
  });
}

process.on("message", (m: unknown) => {
  if (m === "count") process.send?.({ count });
  else if (typeof m === "object" && m !== null && "mode" in m) start(m as PeerStart);
});
process.on("disconnect", () => process.exit(0));
