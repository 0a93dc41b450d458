/**
 * Domain-0's CPU per frame in isolation: one thread, no wake-ups, no frontend work in the
 * figure. Two guests (test/netback/harness.ts: real rings, grant tables and GrantOps in
 * this thread); the sender's TX ring is pre-filled with a batch of frames to the receiver,
 * whose RX ring is kept stocked; only Domain-0's handling of the batch is timed (netback
 * TX, VALE, netback RX, responses). Rows: staging grants at both ends, and grant copies
 * (no staging), at 64 and 1500 B. The figure is CPU time (the process's, which is this
 * thread's but for V8's helpers), so a loaded machine disturbs it far less than wall time.
 *
 * `node dist/bench/dom0-tx.js [--root DIST] [--ms N] [--batch N] [--only TEXT]` runs against the build at DIST (default:
 * this one), so another build (main's) is measured by the same harness: before/after.
 */
import { fileURLToPath } from "node:url";

interface Args {
  root: string;
  ms: number;
  batch: number;
  /** Only rows whose name contains this. */
  only: string;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { root: fileURLToPath(new URL("..", import.meta.url)), ms: 1500, batch: 128, only: "" };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === "--root" && v !== undefined) a.root = v;
    else if (argv[i] === "--ms" && v !== undefined) a.ms = Number(v);
    else if (argv[i] === "--batch" && v !== undefined) a.batch = Number(v);
    else if (argv[i] === "--only" && v !== undefined) a.only = v;
    else continue;
    i++;
  }
  return a;
}

// The harness's shapes, as this bench uses them (imported at run time from --root).
interface Front {
  send(frame: Uint8Array): boolean;
  pushTx(): boolean;
  reapTx(): number;
  postRx(): boolean;
  receiveCount(): number;
  poolRefs: { tx: Int32Array; rx: Int32Array };
}
interface Guest {
  domid: number;
  front: Front;
  fatal: string[];
  kick(q?: number): void;
  alloc(): number;
  mem: { u8: Uint8Array };
  grants: { grantAccess(dom: number, page: number, ro: boolean): number };
  ctrlReq(type: number, d0?: number, d1?: number, d2?: number): { status: number; data: number };
}
interface Rig {
  addGuest(features: unknown, opts: unknown, queues: number, ctrl: unknown): Guest;
  runDeferred(): void;
}

const ADD_GREF_MAPPING = 9;
const GREF_READONLY = 1;

function stage(g: Guest): void {
  const { tx, rx } = g.front.poolRefs;
  const n = tx.length + rx.length;
  const list = new Uint8Array(n * 8);
  const dv = new DataView(list.buffer);
  for (let i = 0; i < n; i++) {
    dv.setUint32(i * 8, i < tx.length ? tx[i] : rx[i - tx.length], true);
    dv.setUint16(i * 8 + 4, i < tx.length ? GREF_READONLY : 0, true);
  }
  const p = g.alloc();
  g.mem.u8.set(list, p * 4096);
  const ref = g.grants.grantAccess(0, p, false);
  const r = g.ctrlReq(ADD_GREF_MAPPING, 0, ref, n);
  if (r.status !== 0) throw new Error(`bench dom0-tx: staging refused (${r.status})`);
}

/** ns of Domain-0 CPU time per frame forwarded guest -> guest, over `ms` of measuring. */
async function measure(
  root: string,
  staged: boolean,
  len: number,
  batch: number,
  ms: number,
): Promise<number> {
  const h = await import(`${root}/test/netback/harness.js`);
  const fr = await import(`${root}/test/netback/frames.js`);
  const t: Rig = new h.OneThread(2048);
  const a = t.addGuest(h.ALL_FEATURES, {}, 1, { staging: true });
  const b = t.addGuest(h.ALL_FEATURES, {}, 1, { staging: true });
  if (staged) {
    stage(a);
    stage(b);
  }
  for (const g of [a, b]) {
    g.front.postRx();
    g.kick();
  }
  // b announces itself, so a's frames go unicast (learnt), not flooded.
  b.front.send(fr.buildFrame({ dst: fr.MAC_BCAST, src: fr.macOf(b.domid), len: 60 }));
  b.front.pushTx();
  b.kick();
  t.runDeferred();
  b.front.reapTx();
  a.front.receiveCount();
  a.kick();
  const frame: Uint8Array = fr.buildFrame({ dst: fr.macOf(b.domid), src: fr.macOf(a.domid), len });
  let spent = 0;
  let frames = 0;
  let got = 0;
  const round = (): void => {
    for (let i = 0; i < batch; i++) if (!a.front.send(frame)) break;
    a.front.pushTx();
    const t0 = process.cpuUsage();
    a.kick();
    t.runDeferred();
    const d = process.cpuUsage(t0);
    spent += (d.user + d.system) * 1000;
    frames += batch;
    a.front.reapTx();
    got += b.front.receiveCount();
    b.kick();
  };
  const run = (forMs: number): void => {
    const until = performance.now() + forMs;
    while (performance.now() < until) for (let i = 0; i < 16; i++) round();
  };
  run(Math.min(500, ms / 2));
  spent = frames = got = 0;
  run(ms);
  if (a.fatal.length > 0 || b.fatal.length > 0) throw new Error(`bench dom0-tx: fatal ${a.fatal}${b.fatal}`);
  if (got !== frames) throw new Error(`bench dom0-tx: ${frames - got} of ${frames} frames lost`);
  return spent / frames;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  for (const staged of [true, false])
    for (const len of [64, 1500]) {
      const name = `dom0 tx->vale->rx ${len} B ${staged ? "staging grants" : "grant copies"}`;
      if (!name.includes(a.only)) continue;
      const ns = await measure(a.root, staged, len, a.batch, a.ms);
      console.log(`${name}: ${ns.toFixed(0)} ns/frame`);
    }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
