/**
 * -P FILE: the frames pkt-gen replays, read once from a pcap file (src/wire/pcap.ts) and
 * copied out of it, so sending touches no parser.
 */
import { readFileSync } from "node:fs";
import { PvnetError } from "../base/errors.js";
import { NETMAP_BUF_SIZE } from "../netmap/mem.js";
import { isParseError } from "../wire/layout.js";
import { LINKTYPE_ETHERNET, readPcap } from "../wire/pcap.js";

/** Frames shorter than an Ethernet header carry nothing a port could switch. */
const MIN_FRAME = 14;

export function loadPcapFrames(path: string): Uint8Array[] {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PvnetError(err.code ?? "EIO", `-P ${path}: cannot read the file (${err.code ?? err.message})`);
  }
  const f = readPcap(bytes);
  if (isParseError(f)) throw new PvnetError("EINVAL", `-P ${path}: not a pcap file: ${f.error}`);
  if (f.header.linktype !== LINKTYPE_ETHERNET)
    throw new PvnetError("EINVAL", `-P ${path}: link type ${f.header.linktype} (expected 1, Ethernet)`);
  const frames: Uint8Array[] = [];
  for (const [i, r] of f.records.entries()) {
    if (r.data.length < MIN_FRAME || r.data.length > NETMAP_BUF_SIZE)
      throw new PvnetError(
        "EINVAL",
        `-P ${path}: packet ${i + 1} has ${r.data.length} bytes (expected ${MIN_FRAME} to ${NETMAP_BUF_SIZE})`,
      );
    frames.push(Uint8Array.from(r.data));
  }
  if (frames.length === 0) throw new PvnetError("EINVAL", `-P ${path}: no packets in the file`);
  return frames;
}
