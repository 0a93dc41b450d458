/**
 * One side of the postMessage baseline (see postmessage.ts). The producer builds frames from the
 * same template as bench/ref/ring.c (sequence number at byte 42) and sends them over a
 * MessagePort shared with the consumer; the consumer copies each frame into a private buffer,
 * checks the sequence and returns credits. Counters go to the main thread through a
 * SharedArrayBuffer so that measuring adds no messages.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";

export type PostMessageVariant = "frame" | "packed" | "transfer";

export interface PostMessageWorkerData {
  role: "producer" | "consumer";
  variant: PostMessageVariant;
  frameBytes: number;
  /** Frames per message (1 for `frame`). */
  batch: number;
  /** Most frames the producer may have sent but not yet seen acknowledged. */
  windowFrames: number;
  /** The consumer acknowledges once at least this many frames are unacknowledged. */
  ackFrames: number;
  /** The producer-consumer channel; acknowledgements travel back on it. */
  port: MessagePort;
  /** Uint32 counters, see STAT_*. */
  stats: SharedArrayBuffer;
}

/** Frames consumed (wraps at 2^32; readers subtract modulo 2^32). */
export const STAT_CONSUMED = 0;
export const STAT_SEQ_ERRORS = 1;
export const STAT_WORDS = 2;

/** Sent by a worker to the main thread once it listens on its port. */
export const MSG_READY = "ready";
/** Sent by the main thread to the producer to begin. */
export const MSG_START = "start";

const SEQ_OFF = 42;
const TEMPLATE_LEN = 60;

/** Ethernet 02:..:01 -> 02:..:02, IPv4 10.0.0.1 -> 10.0.0.2, UDP 1234 -> 5678; filler after. */
function buildFrame(frameBytes: number): Uint8Array {
  const frame = new Uint8Array(frameBytes);
  for (let i = 0; i < frameBytes; i++) frame[i] = i & 0xff;
  const template = [
    ...[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00],
    ...[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2],
    ...[0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 0],
  ];
  frame.set(template.concat(new Array(TEMPLATE_LEN - template.length).fill(0)).slice(0, frameBytes));
  const dv = new DataView(frame.buffer);
  dv.setUint16(16, frameBytes - 14);
  dv.setUint16(38, frameBytes - 34);
  return frame;
}

function runProducer(d: PostMessageWorkerData): void {
  const template = buildFrame(d.frameBytes);
  const msgBytes = d.frameBytes * d.batch;
  // `frame` and `packed` are cloned on send, so one buffer can be reused; `transfer` gives its away.
  let buf = new Uint8Array(msgBytes);
  let dv = new DataView(buf.buffer);
  let seq = 0;
  let nSent = 0;
  let nAcked = 0;

  const fill = (): void => {
    for (let off = 0; off < msgBytes; off += d.frameBytes) {
      buf.set(template, off);
      dv.setUint32(off + SEQ_OFF, seq++ >>> 0, true);
    }
  };
  const pump = (): void => {
    while (nSent - nAcked + d.batch <= d.windowFrames) {
      if (d.variant === "transfer") {
        buf = new Uint8Array(msgBytes);
        dv = new DataView(buf.buffer);
      }
      fill();
      if (d.variant === "frame") d.port.postMessage(buf);
      else if (d.variant === "packed") d.port.postMessage(buf.buffer);
      else d.port.postMessage(buf.buffer, [buf.buffer]);
      nSent += d.batch;
    }
  };
  d.port.on("message", (nFrames: number) => {
    nAcked += nFrames;
    pump();
  });
  parentPort!.on("message", (msg) => {
    if (msg === MSG_START) pump();
  });
  parentPort!.postMessage(MSG_READY);
}

function runConsumer(d: PostMessageWorkerData): void {
  const stats = new Uint32Array(d.stats);
  const priv = new Uint8Array(2048);
  const privDv = new DataView(priv.buffer);
  let expectSeq = 0;
  let nConsumed = 0;
  let nSeqErrors = 0;
  let nUnacked = 0;

  const takeFrame = (): void => {
    const seq = privDv.getUint32(SEQ_OFF, true);
    if (seq !== expectSeq) nSeqErrors++;
    expectSeq = (seq + 1) >>> 0;
  };
  d.port.on("message", (data: Uint8Array | ArrayBuffer) => {
    let nFrames = 0;
    if (data instanceof Uint8Array) {
      priv.set(data);
      takeFrame();
      nFrames = 1;
    } else {
      // The idiomatic copy out of a received buffer: a view per frame, then set().
      const bytes = new Uint8Array(data);
      for (let off = 0; off + d.frameBytes <= bytes.length; off += d.frameBytes) {
        priv.set(bytes.subarray(off, off + d.frameBytes));
        takeFrame();
        nFrames++;
      }
    }
    nConsumed += nFrames;
    Atomics.store(stats, STAT_CONSUMED, nConsumed);
    Atomics.store(stats, STAT_SEQ_ERRORS, nSeqErrors);
    nUnacked += nFrames;
    if (nUnacked >= d.ackFrames) {
      d.port.postMessage(nUnacked);
      nUnacked = 0;
    }
  });
  parentPort!.postMessage(MSG_READY);
}

const data = workerData as PostMessageWorkerData | undefined;
if (parentPort && data) {
  if (data.role === "producer") runProducer(data);
  else runConsumer(data);
}
