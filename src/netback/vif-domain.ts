/**
 * What of Domain-0's runtime the datapath uses: its memory and pages (scratch and header
 * buffers), grant operations, event channels, loop and timers (the credit limiter's). A Domain is one; tests drive the
 * datapath in one thread with a stand-in.
 */
import type { Domain } from "../hv/domain.js";

export type VifDomain = Pick<Domain, "domid" | "memory" | "pages" | "gnt" | "evtchn" | "loop" | "timers">;
