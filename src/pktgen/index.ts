/**
 * netmap's pkt-gen over pvnet ports: {@link parsePktGenArgs} takes pkt-gen's options,
 * {@link runPktGen} runs one or more instances (tx, rx, txseq, rxseq, ping, pong)
 * cooperatively in one thread and prints pkt-gen's lines, {@link pktGenHost} is a netmap
 * context with VALE installed for them to meet in.
 *
 * @module pvnet/pktgen
 */
export { buildFrame, PKT_SEQ_OFF, PKT_TS_OFF } from "./frame.js";
export { pktGenHost, splitInstances } from "./host.js";
export { type PktGenFn, type PktGenOptions, parsePktGenArgs } from "./options.js";
export { finalLines, intervalLine, norm, type Totals } from "./report.js";
export {
  type DropCounter,
  type InstanceExtras,
  type PktGenResult,
  type RunOptions,
  runInstance,
  runPktGen,
} from "./run.js";
