/**
 * Control-plane and API errors. Each carries a stable `code` taken from the protocol it
 * speaks (xs_wire.h's ENOENT, EACCES...; GNTST_bad_domain; CONFIG for configuration).
 * Datapath code never throws for peer input: it returns numeric statuses instead.
 *
 * Errors cross worker boundaries as plain `{ code, message, detail }` (structured clone
 * drops subclass identity and custom fields), rebuilt with `fromWire`.
 */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly detail?: Record<string, string | number | boolean> | undefined;
}

export class PvnetError extends Error {
  override name = "PvnetError";
  readonly code: string;
  readonly detail: Record<string, string | number | boolean> | undefined;

  constructor(code: string, message: string, detail?: Record<string, string | number | boolean>) {
    super(message);
    this.code = code;
    this.detail = detail;
  }

  toWire(): WireError {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }

  static fromWire(w: WireError): PvnetError {
    return new PvnetError(w.code, w.message, w.detail);
  }
}

/** Turns anything thrown into wire form; a non-Pvnet error is a bug and is marked so. */
export function toWireError(e: unknown): WireError {
  if (e instanceof PvnetError) return e.toWire();
  if (e instanceof Error) return { code: "EBUG", message: `${e.name}: ${e.message}` };
  return { code: "EBUG", message: String(e) };
}

export function isWireError(v: unknown): v is WireError {
  return (
    typeof v === "object" &&
    v !== null &&
    typeof (v as WireError).code === "string" &&
    typeof (v as WireError).message === "string"
  );
}
