/**
 * The malicious backend's catalogue: one named case per check Linux netfront makes on its
 * backend (xen-protocol.md §7.5) and per advisory of §8 a backend can aim at a frontend
 * (XSA-391 event floods, XSA-405 double completion). Each case runs on a fresh device of
 * the victim (RawBack.open) and closes it; the outcome is read from the victim's netfront:
 * a fatal reason (the device marked broken) is `fatal`, a counted drop or error `dropped`,
 * nothing `ignored`; a device not fatal must still receive a valid frame afterwards.
 */
import {
  NETIF_RSP_ERROR,
  NETIF_RSP_OKAY,
  NETRXF_extra_info,
  NETRXF_more_data,
  XEN_NETIF_EXTRA_FLAG_MORE,
} from "../wire/xen/netif.js";
import type { CaseInfo, CaseObservation } from "./outcome.js";
import type { RawBack } from "./raw-back.js";

type Obs = CaseObservation & { vifAlive: boolean | null };

export interface BackCase extends CaseInfo {
  run(b: RawBack): Promise<Obs>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const DROP_COUNTERS = ["rx_dropped", "rx_errors", "tx_errors", "tx_dropped"];

/** Waits for the victim's first `n` TX requests (it was asked to send them). */
async function txRequests(b: RawBack, n: number): Promise<boolean> {
  b.dom.post(b.victim, { t: "nf-send", n });
  const end = Date.now() + 1000;
  while (Date.now() < end) {
    if (b.txReqProd() >= n) return true;
    await sleep(2);
  }
  return false;
}

/** Waits until the victim posted at least `n` RX buffers. */
async function rxPosted(b: RawBack, n: number): Promise<boolean> {
  const end = Date.now() + 1000;
  while (Date.now() < end) {
    if ((b.rxReqProd() - b.rxRsp) >>> 0 >= n) return true;
    await sleep(2);
  }
  return false;
}

/** One valid 60-byte frame into the next posted buffer: whether the victim received it. */
async function probe(b: RawBack): Promise<boolean> {
  if (!(await rxPosted(b, 1))) return false;
  const before = (await b.state()).received;
  const { id, gref } = b.rxReq(b.rxRsp);
  b.fillRx(gref, 0, 60);
  b.rxRespond(id, 0, 0, 60);
  b.publishRx();
  b.notify();
  const end = Date.now() + 500;
  while (Date.now() < end) {
    if ((await b.state()).received > before) return true;
    await sleep(5);
  }
  return false;
}

/** Opens a device, runs `attack`, classifies from the victim's counters, closes. */
async function backAttack(b: RawBack, attack: (b: RawBack) => Promise<void>): Promise<Obs> {
  await b.open();
  let obs: Obs;
  try {
    const s0 = await b.state();
    await attack(b);
    b.notify();
    await sleep(100);
    const s1 = await b.state();
    const moved = DROP_COUNTERS.map((k) => `${k} +${(s1.counters[k] ?? 0) - (s0.counters[k] ?? 0)}`)
      .filter((x) => !x.endsWith("+0"))
      .join(", ");
    const dropped = DROP_COUNTERS.some((k) => (s1.counters[k] ?? 0) > (s0.counters[k] ?? 0));
    if (s1.fatal.length > s0.fatal.length)
      obs = {
        outcome: "fatal",
        detail: `device broken: ${s1.fatal[s1.fatal.length - 1]}`,
        vifAlive: null,
      };
    else {
      const alive = await probe(b);
      obs = {
        outcome: dropped ? "dropped" : "ignored",
        detail: `device working; ${moved === "" ? "no drop counted" : moved}`,
        vifAlive: alive,
      };
    }
  } finally {
    const closed = await b.close();
    if (closed.liveGrants !== 0 || closed.held !== 0) {
      // Reported through the runner's resource line: the victim could not end every grant.
      obs = obs! ?? { outcome: "ignored", detail: "", vifAlive: null };
      obs = { ...obs, detail: `${obs.detail}; victim grants left ${closed.liveGrants}, held ${closed.held}` };
    }
  }
  return obs;
}

export const BACKEND_CASES: readonly BackCase[] = [
  {
    name: "tx-id-out-of-range",
    does: "answers a TX request with id 300 (beyond the ring)",
    ref: "§7.5 Response has incorrect id; XSA-405",
    expect: ["fatal"],
    run: (b) =>
      backAttack(b, async (b) => {
        await txRequests(b, 1);
        b.txRespond(300, NETIF_RSP_OKAY);
        b.publishTx();
      }),
  },
  {
    name: "tx-id-inactive",
    does: "answers a TX id that has no request outstanding",
    ref: "§7.5 Response for inactive request; XSA-405",
    expect: ["fatal"],
    run: (b) =>
      backAttack(b, async (b) => {
        await txRequests(b, 1);
        b.txRespond((b.txReqId(0) + 7) & 0xff, NETIF_RSP_OKAY);
        b.publishTx();
      }),
  },
  {
    name: "tx-id-duplicate",
    does: "answers the same TX request twice",
    ref: "§7.5 a response is completed once; XSA-405",
    expect: ["fatal"],
    run: (b) =>
      backAttack(b, async (b) => {
        await txRequests(b, 1);
        const id = b.txReqId(0);
        b.txRespond(id, NETIF_RSP_OKAY);
        b.txRespond(id, NETIF_RSP_OKAY);
        b.publishTx();
      }),
  },
  {
    name: "tx-rsp-prod-ahead",
    does: "publishes a TX rsp_prod 50 beyond the requests made",
    ref: "§7.5 Illegal number of responses",
    expect: ["fatal"],
    run: (b) =>
      backAttack(b, async (b) => {
        await txRequests(b, 1);
        b.publishTx(50);
      }),
  },
  {
    name: "tx-error-status",
    does: "answers a TX request NETIF_RSP_ERROR",
    ref: "§7.5 (an honest failure: counted, not fatal)",
    expect: ["dropped"],
    run: (b) =>
      backAttack(b, async (b) => {
        await txRequests(b, 1);
        b.txRespond(b.txReqId(0), NETIF_RSP_ERROR);
        b.publishTx();
      }),
  },
  {
    name: "rx-rsp-prod-ahead",
    does: "publishes an RX rsp_prod far beyond the buffers posted",
    ref: "§7.5 Illegal number of responses",
    expect: ["fatal"],
    run: (b) =>
      backAttack(b, async (b) => {
        await rxPosted(b, 1);
        b.publishRx(b.rxRsp + 5000);
      }),
  },
  {
    name: "rx-bad-id",
    does: "an RX response whose id names a different slot than the one it sits in",
    ref: "§7.5 Bad rx response id",
    expect: ["fatal"],
    run: (b) =>
      backAttack(b, async (b) => {
        await rxPosted(b, 2);
        const { id, gref } = b.rxReq(b.rxRsp);
        b.fillRx(gref, 0, 60);
        b.rxRespond((id + 1) & 0xff, 0, 0, 60);
        b.publishRx();
      }),
  },
  {
    name: "rx-size-over-page",
    does: "an RX response of 5000 bytes in one 4096-byte buffer",
    ref: "§7.5 bad status/offset: dropped",
    expect: ["dropped"],
    run: (b) =>
      backAttack(b, async (b) => {
        await rxPosted(b, 1);
        const { id } = b.rxReq(b.rxRsp);
        b.rxRespond(id, 0, 0, 5000);
        b.publishRx();
      }),
  },
  {
    name: "rx-offset-out-of-page",
    does: "an RX response at offset 4000 of 200 bytes",
    ref: "§7.5 bad status/offset: dropped",
    expect: ["dropped"],
    run: (b) =>
      backAttack(b, async (b) => {
        await rxPosted(b, 1);
        const { id } = b.rxReq(b.rxRsp);
        b.rxRespond(id, 4000, 0, 200);
        b.publishRx();
      }),
  },
  {
    name: "rx-error-status",
    does: "an RX response with status NETIF_RSP_ERROR",
    ref: "§7.5 (a failed copy: counted, buffers recycled)",
    expect: ["dropped"],
    run: (b) =>
      backAttack(b, async (b) => {
        await rxPosted(b, 1);
        const { id } = b.rxReq(b.rxRsp);
        b.rxRespond(id, 0, 0, NETIF_RSP_ERROR);
        b.publishRx();
      }),
  },
  {
    name: "rx-more-data-past-prod",
    does: "the last published RX response has NETRXF_more_data set",
    ref: "§7.5 Need more slots",
    expect: ["dropped", "ignored"],
    run: (b) =>
      backAttack(b, async (b) => {
        await rxPosted(b, 2);
        const { id, gref } = b.rxReq(b.rxRsp);
        b.fillRx(gref, 0, 60);
        b.rxRespond(id, 0, NETRXF_more_data, 60);
        b.publishRx();
      }),
  },
  {
    name: "rx-extra-garbage",
    does: "an RX frame flagged extra_info followed by an extra of type 9 with MORE set",
    ref: "§7.5 bad extras: dropped",
    expect: ["dropped"],
    run: (b) =>
      backAttack(b, async (b) => {
        await rxPosted(b, 3);
        const { id, gref } = b.rxReq(b.rxRsp);
        b.fillRx(gref, 0, 60);
        b.rxRespond(id, 0, NETRXF_extra_info, 60);
        b.rxExtra(9, XEN_NETIF_EXTRA_FLAG_MORE);
        b.rxExtra(9, 0);
        b.publishRx();
      }),
  },
  {
    name: "rx-zero-length",
    does: "an RX response of 0 bytes",
    ref: "§7.5 (an empty frame: buffers recycled, counted)",
    expect: ["dropped"],
    run: (b) =>
      backAttack(b, async (b) => {
        await rxPosted(b, 1);
        const { id } = b.rxReq(b.rxRsp);
        b.rxRespond(id, 0, 0, 0);
        b.publishRx();
      }),
  },
  {
    name: "event-storm",
    does: "200 000 notifications to the frontend with no responses behind them",
    ref: "XSA-391 (frontend late EOI, spurious-event accounting)",
    expect: ["ignored"],
    run: (b) =>
      backAttack(b, async (b) => {
        for (let i = 0; i < 200_000; i++) {
          b.notify();
          if (i % 20_000 === 0) await sleep(0);
        }
      }),
  },
];
