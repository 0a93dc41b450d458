/**
 * The web view as `pvnet up` runs it: the server listening before the host boots, the
 * xenstore mirror started once Domain-0 runs (before any guest), then both serving the host.
 */
import type { Machine } from "../hv/machine.js";
import type { Host } from "../toolstack/host.js";
import type { WebAddr } from "./addr.js";
import { WebView } from "./server.js";
import { XsMirror } from "./xs-mirror.js";

export class WebLive {
  readonly #view: WebView;
  #xs: XsMirror | null = null;

  private constructor(view: WebView) {
    this.#view = view;
  }

  static async listen(addr: WebAddr): Promise<WebLive> {
    return new WebLive(await WebView.listen(addr));
  }

  get url(): string {
    return this.#view.url;
  }

  /** Starts watching xenstored at `socketPath` and logging Domain-0's change reports (HostOptions.onDom0Ready). */
  async watch(socketPath: string, machine: Machine): Promise<void> {
    this.#xs = await XsMirror.start(socketPath, machine);
  }

  serve(host: Host): void {
    if (this.#xs !== null) this.#view.serve(host, this.#xs);
  }

  async close(): Promise<void> {
    await this.#view.close();
    this.#xs?.close();
  }
}
