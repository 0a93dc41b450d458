/**
 * `pvnet capture PORT -w FILE|- [-c N] [--format pcap|pcapng] [FILTER]`: tcpdump -w on a
 * running host. The host's Domain-0 taps the port (a vif, a VALE port, an uplink, or a whole
 * bridge) and streams the file over the control socket (capture-stream.ts); this writes it
 * to FILE or stdout (`-w - | tshark -r -`). Ctrl-C, `-c` or the reader going away ends it;
 * the counts go to stderr as tcpdump prints them.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { connect, type Socket } from "node:net";
import { type Command, InvalidArgumentError } from "commander";
import { PvnetError } from "../base/errors.js";
import { CAPTURE_REC_DATA, CAPTURE_REC_END, CAPTURE_REC_HDR } from "../toolstack/capture-stream.js";
import { parseFilter } from "../vale/capture-filter.js";
import { defaultControlSocket } from "./control-client.js";
import { ENV_HELP } from "./env-help.js";
import { socketPathArg, usage } from "./style.js";

interface CaptureOpts {
  write?: string;
  count?: number;
  format: string;
  control?: string;
}

export interface CaptureEnd {
  captured: number;
  dropped: number;
  reason: string;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 2 ** 31)
    throw new InvalidArgumentError(`expected a count >= 1, got ${JSON.stringify(v)}`);
  return n;
}

/** Largest record the host sends (a chunk is at most 512 KiB; the end is a short line). */
const REC_MAX = 1 << 20;

/**
 * Runs one capture: the request, the reply, then records into the stream `openOut` makes
 * (called once the host has said yes, so a refused capture leaves no file behind) until
 * the end record.
 * Resolves with the counts; rejects with one line when the host refuses or goes away.
 */
export function runCapture(
  path: string,
  req: Record<string, unknown>,
  openOut: () => NodeJS.WritableStream,
  stopOn: Promise<unknown>,
): Promise<CaptureEnd> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(path);
    let settled = false;
    let replied = false;
    /** The end record came: the host's close that follows is expected. */
    let ended = false;
    let pending: Buffer = Buffer.alloc(0);
    const done = (e: Error | null, v?: CaptureEnd): void => {
      if (settled) return;
      settled = true;
      s.destroy();
      if (e !== null) reject(e);
      else resolve(v!);
    };
    void stopOn.then(() => {
      // Asked to stop: the host ends the stream with its counts.
      if (!s.destroyed) s.write("stop\n");
    });
    s.on("connect", () => s.write(`${JSON.stringify(req)}\n`));
    s.on("error", (e: NodeJS.ErrnoException) => {
      const code = e.code ?? "EIO";
      done(
        code === "ENOENT" || code === "ECONNREFUSED"
          ? new PvnetError("ESRCH", `no pvnet host is running (no control socket at ${path})`)
          : new PvnetError(code, `cannot reach the host at ${path}: ${e.message}`),
      );
    });
    let out: NodeJS.WritableStream | null = null;
    s.on("data", (c: Buffer) => {
      pending = pending.length === 0 ? c : Buffer.concat([pending, c]);
      if (!replied) {
        const nl = pending.indexOf(0x0a);
        if (nl < 0) {
          if (pending.length > 65536) done(new PvnetError("EPROTO", "the host's reply line is too long"));
          return;
        }
        let r: Record<string, unknown>;
        try {
          r = JSON.parse(pending.subarray(0, nl).toString("utf8")) as Record<string, unknown>;
        } catch {
          return done(new PvnetError("EPROTO", `the host at ${path} sent a reply that is not JSON`));
        }
        if (r.ok !== true)
          return done(new PvnetError("EREMOTE", typeof r.error === "string" ? r.error : "the host refused"));
        replied = true;
        pending = pending.subarray(nl + 1);
        out = openOut();
        out.on("error", (e: NodeJS.ErrnoException) =>
          // The reader went away (tshark quit): stop quietly; anything else is an error.
          e.code === "EPIPE"
            ? done(null, { captured: -1, dropped: -1, reason: "the reader went away" })
            : done(new PvnetError(e.code ?? "EIO", `writing the capture: ${e.message}`)),
        );
      }
      while (out !== null && pending.length >= CAPTURE_REC_HDR) {
        const type = pending[0];
        const len = pending.readUInt32LE(1);
        if (len > REC_MAX || (type !== CAPTURE_REC_DATA && type !== CAPTURE_REC_END))
          return done(new PvnetError("EPROTO", "the host's capture stream is garbled"));
        if (pending.length < CAPTURE_REC_HDR + len) break;
        const body = pending.subarray(CAPTURE_REC_HDR, CAPTURE_REC_HDR + len);
        pending = pending.subarray(CAPTURE_REC_HDR + len);
        if (type === CAPTURE_REC_END) {
          let end: CaptureEnd;
          try {
            end = JSON.parse(body.toString("utf8")) as CaptureEnd;
          } catch {
            return done(new PvnetError("EPROTO", "the host's end record is not JSON"));
          }
          // The counts come once everything before them is written out.
          ended = true;
          out.write(Buffer.alloc(0), () => done(null, end));
          return;
        }
        // Backpressure: the host stops being acknowledged, and Domain-0 drops and counts.
        if (!out.write(Buffer.from(body))) {
          s.pause();
          out.once("drain", () => s.resume());
        }
      }
    });
    s.on(
      "close",
      () =>
        ended ||
        done(
          new PvnetError(
            "EPROTO",
            replied
              ? "the host closed the capture without its counts (it stopped?)"
              : "the host closed the connection without a reply",
          ),
        ),
    );
  });
}

export function captureCommand(program: Command): void {
  program
    .command("capture")
    .description("capture a port of a running host to a pcap or pcapng file, as tcpdump -w")
    .argument(
      "<port>",
      "a vif (vif1.0), a VALE port or uplink (its name, or BRIDGE:NAME), or a bridge (all its ports)",
    )
    .argument(
      "[filter...]",
      "ether host|src|dst MAC, ip host|src|dst A.B.C.D, udp|tcp port N, ip, arp, udp, tcp, icmp; joined with and",
    )
    .option("-w, --write <file>", "write the capture to FILE, or to stdout with -")
    .option("-c, --count <n>", "stop after N packets", positiveInt)
    .option("--format <format>", "pcap, or pcapng (interface name, per-packet direction)", "pcap")
    .option(
      "--control <path>",
      `the host's control socket (default ${defaultControlSocket()})`,
      socketPathArg,
    )
    .addHelpText("after", ENV_HELP.control)
    .action(async (port: string, words: string[], o: CaptureOpts) => {
      if (o.write === undefined || o.write === "")
        throw usage(
          "-w FILE is required",
          "pvnet writes captures for tshark or Wireshark to read; -w - for stdout",
        );
      if (o.format !== "pcap" && o.format !== "pcapng")
        throw usage(`bad format ${JSON.stringify(o.format)}`, "expected pcap or pcapng");
      const filter = words.join(" ");
      const terms = parseFilter(filter);
      if (typeof terms === "string") throw usage(terms);
      let file: WriteStream | null = null;
      const path = o.write;
      const openOut = (): NodeJS.WritableStream => {
        if (path === "-") return process.stdout;
        file = createWriteStream(path);
        return file;
      };
      let interrupted = (): void => {};
      const stopOn = new Promise<void>((r) => {
        interrupted = r;
      });
      process.on("SIGINT", interrupted);
      process.on("SIGTERM", interrupted);
      try {
        const end = await runCapture(
          o.control ?? defaultControlSocket(),
          { op: "capture", port, format: o.format, count: o.count ?? null, filter },
          openOut,
          stopOn,
        );
        if (end.captured >= 0)
          process.stderr.write(`${end.captured} packets captured\n${end.dropped} packets dropped\n`);
        // Ended by neither the user nor -c: the port went (its guest was destroyed), or the
        // host stopped. The file holds what came before; the status says it was cut short.
        if (end.captured >= 0 && end.reason !== "stopped" && !/^\d+ packets$/.test(end.reason))
          throw new PvnetError("ENODEV", end.reason);
      } finally {
        const f = file as WriteStream | null;
        if (f !== null && !f.destroyed) await new Promise<void>((r) => f.end(() => r()));
      }
    });
}
