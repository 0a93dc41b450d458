/**
 * One registered watch as seen by XsClient: an async iterator of events. Events queue until
 * the consumer reads them, up to a bound; past it the oldest are dropped and counted, so a
 * consumer that stops reading cannot exhaust memory. (xenbus users re-read the node on every
 * event, so a dropped event loses no state as long as a later one arrives.)
 */
export interface XsWatchEvent {
  /** The node that changed (the watched path itself for the initial event). */
  path: string;
  token: string;
}

export const DEFAULT_MAX_QUEUED_EVENTS = 4096;

export class XsWatch implements AsyncIterable<XsWatchEvent> {
  readonly path: string;
  readonly token: string;
  /** Events dropped because the queue was full. */
  dropped = 0;
  readonly #queue: XsWatchEvent[] = [];
  readonly #waiters: ((r: IteratorResult<XsWatchEvent>) => void)[] = [];
  readonly #unwatch: () => Promise<void>;
  readonly #max: number;
  #ended = false;

  constructor(
    path: string,
    token: string,
    unwatch: () => Promise<void>,
    maxQueued = DEFAULT_MAX_QUEUED_EVENTS,
  ) {
    this.path = path;
    this.token = token;
    this.#unwatch = unwatch;
    this.#max = maxQueued;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Called by the client for each event with this watch's token. */
  push(ev: XsWatchEvent): void {
    if (this.#ended) return;
    const w = this.#waiters.shift();
    if (w !== undefined) {
      w({ value: ev, done: false });
      return;
    }
    if (this.#queue.length >= this.#max) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#queue.push(ev);
  }

  /** Called by the client when the watch or the connection goes away: iteration ends. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
  }

  /** The next event; `done` once the watch has ended and its queue is drained. */
  next(): Promise<IteratorResult<XsWatchEvent>> {
    const ev = this.#queue.shift();
    if (ev !== undefined) return Promise.resolve({ value: ev, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Unregisters the watch (XS_UNWATCH) and ends iteration. */
  async close(): Promise<void> {
    if (this.#ended) return;
    this.end();
    await this.#unwatch();
  }

  [Symbol.asyncIterator](): AsyncIterator<XsWatchEvent> {
    return {
      next: () => this.next(),
      // A `break` out of for-await unregisters the watch.
      return: async () => {
        await this.close().catch(() => undefined); // the connection may already be gone
        return { value: undefined, done: true };
      },
    };
  }
}
