/**
 * The malicious backend's random mode: N random words written where a backend can write
 * them (TX and RX response slots, both rsp_prods, the victim's RX buffers, notifications),
 * in batches. Whenever the victim's netfront declares the device broken, the backend opens
 * a fresh one and goes on. Seeded: the same seed writes the same words.
 */
import { type RandomTotals, Rng } from "./random.js";
import type { RawBack } from "./raw-back.js";

const BATCH = 32;

export async function backendRandom(b: RawBack, n: number, seed: number): Promise<RandomTotals> {
  const r = new Rng(seed);
  const t: RandomTotals = { writes: 0, reconnects: 0, responses: 0, dropped: 0 };
  await b.open();
  let drop0 = 0;
  /** Responses written on devices already closed. */
  let answered = 0;
  let batches = 0;
  while (t.writes < n) {
    const kind = r.below(8);
    if (kind < 4) {
      // RX responses: most for a posted buffer with a plausible size, the rest noise.
      for (let i = 0; i < BATCH && t.writes < n; i++, t.writes++) {
        if (r.chance(0.8) && (b.rxReqProd() - b.rxRsp) >>> 0 > 0) {
          const { id, gref } = b.rxReq(b.rxRsp);
          if (r.chance(0.5)) b.fillRx(gref, 0, 60);
          b.rxRespond(
            r.chance(0.95) ? id : r.below(0x10000),
            r.chance(0.95) ? 0 : r.below(0x10000),
            r.below(4) === 0 ? r.below(0x20) : 0,
            r.chance(0.9) ? 14 + r.below(1500) : (r.u32() << 16) >> 16,
          );
        } else b.rxRespond(r.below(0x10000), r.below(0x10000), r.below(0x10000), (r.u32() << 16) >> 16);
      }
      b.publishRx(r.chance(0.97) ? b.rxRsp : r.u32());
      t.writes++;
    } else if (kind < 6) {
      b.dom.post(b.victim, { t: "nf-send", n: 1 + r.below(8) });
      for (let i = 0; i < BATCH && t.writes < n; i++, t.writes++) {
        const pending = (b.txReqProd() - b.txRsp) >>> 0;
        const id = pending > 0 && r.chance(0.9) ? b.txReqId(b.txRsp) : r.below(0x10000);
        b.txRespond(id, r.chance(0.9) ? 0 : (r.u32() << 16) >> 16);
      }
      b.publishTx(r.chance(0.97) ? b.txRsp : r.u32());
      t.writes++;
    } else {
      for (let i = 0; i < 1 + r.below(1000); i++) b.notify();
      t.writes++;
    }
    b.notify();
    await new Promise((res) => setImmediate(res));
    if (++batches % 8 === 0) {
      const s = await b.state();
      t.responses = answered + b.txRsp + b.rxRsp;
      const drops = (s.counters.rx_dropped ?? 0) + (s.counters.rx_errors ?? 0) + (s.counters.tx_errors ?? 0);
      t.dropped += drops - drop0;
      drop0 = drops;
      if (s.fatal.length > 0) {
        answered += b.txRsp + b.rxRsp;
        await b.close();
        await b.open();
        t.reconnects++;
        drop0 = 0;
      }
    }
  }
  t.responses = answered + b.txRsp + b.rxRsp;
  await b.close();
  return t;
}
