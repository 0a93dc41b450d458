/**
 * Domain-0's side of hot-plugging (`pvnet network-attach`, `network-detach`) and of a vif's
 * hotplug script, as libxl does them on a Xen host:
 *
 * - attach: the vif's frontend and backend directories are written in one transaction
 *   (vif-device.ts); netback probes the backend, the guest's xenbus watch sees the
 *   frontend, and the two connect as at boot;
 * - detach: backend `online`=0 and `state`=Closing; the frontend closes for good, netback
 *   reaches Closed (bounded wait), the three directories go (with the parents they leave
 *   empty), the vif leaves its switch and its status record goes;
 * - the script: Domain-0 cannot fork from a worker thread, so it asks the main thread to
 *   run it (an "hotplug-run" report, answered by MSG_HOTPLUG_DONE), with Xen's vif hotplug
 *   environment and `online` or `offline` as its first argument.
 */
import type { Domain } from "../hv/domain.js";
import { MACHINE } from "../hv/worker-proto.js";
import type { XsClient } from "../xenstore/client.js";
import {
  domainPath,
  HOTPLUG_ERROR,
  KEY_HOTPLUG_STATUS,
  LIBXL_PATH,
  vifBackendPath,
  vifFrontendPath,
  vifLibxlPath,
} from "../xenstore/keys.js";
import type { HostVif } from "./host-proto.js";
import {
  type AttachVifMsg,
  type DetachVifMsg,
  HOTPLUG_SCRIPT_MS,
  type HotplugDoneMsg,
  MSG_ATTACH_VIF,
  MSG_DETACH_VIF,
  MSG_HOTPLUG_DONE,
  type OpsReport,
} from "./ops-proto.js";
import { removeVifDevice, writeVifDevice } from "./vif-device.js";

/** What the Domain-0 program lends this module. */
export interface Dom0OpsContext {
  readonly dom: Domain;
  readonly xs: XsClient;
  readonly log: (line: string) => void;
  /** Whether Domain-0 serves (or is adding) this vif. */
  readonly has: (domid: number, devid: number) => boolean;
  /** Records a vif to serve (its status words), before its device is written. */
  readonly addRec: (spec: HostVif) => void;
  /** Its device is written: status read, the guest's devices followed. */
  readonly written: (domid: number, devid: number) => Promise<void>;
  /** Forgets a vif whose device is gone: its last status copied, its switch port released. */
  readonly dropRec: (domid: number, devid: number) => Promise<void>;
  /** Removes `path` and the parents below `stop` it leaves empty (libxl__xs_path_cleanup). */
  readonly pathCleanup: (xs: XsClient, path: string, stop: string) => Promise<void>;
}

export interface ScriptOutcome {
  readonly ok: boolean;
  readonly message: string;
}

export interface Dom0VifOps {
  /** Handles a host message if it is one of ours; true when it was. */
  handle(from: number, data: unknown): boolean;
  /** Runs the vif's script with `action`; resolves with whether it exited 0 and its message. */
  runScript(spec: HostVif, backendDir: string, action: "online" | "offline"): Promise<ScriptOutcome>;
  /** The hotplug step failed: `hotplug-error` then `hotplug-status`=error, as Xen's scripts write them. */
  hotplugError(backendDir: string, message: string): Promise<void>;
}

export function dom0VifOps(ctx: Dom0OpsContext): Dom0VifOps {
  const { dom, xs, log } = ctx;
  const report = (r: OpsReport): void => dom.report(r);
  const scripts = new Map<number, (o: ScriptOutcome) => void>();
  let nextScript = 1;

  const attach = async (m: AttachVifMsg): Promise<void> => {
    const { domid, vif } = m.vif;
    try {
      if (ctx.has(domid, vif.devid)) throw new Error(`vif${domid}.${vif.devid} exists`);
      if (dom.foreign(domid) === undefined) throw new Error(`no domain ${domid}`);
      ctx.addRec(m.vif);
      await writeVifDevice(xs, {
        feDomid: domid,
        beDomid: dom.domid,
        devid: vif.devid,
        vif,
        script: vif.script,
        trusted: vif.trusted,
      });
      await ctx.written(domid, vif.devid);
      report({ t: "vif-attached", id: m.id });
    } catch (e) {
      report({ t: "vif-attached", id: m.id, error: errText(e) });
    }
  };

  const detach = async (m: DetachVifMsg): Promise<void> => {
    const id = { feDomid: m.domid, beDomid: dom.domid, devid: m.devid };
    try {
      const closed = await removeVifDevice(xs, id, { closedTimeoutMs: 2000 });
      // The parents a last device leaves empty go too, and any error node netback wrote.
      const home = domainPath(dom.domid);
      for (const [p, stop] of [
        [vifBackendPath(dom.domid, m.domid, m.devid), home],
        [vifFrontendPath(m.domid, m.devid), domainPath(m.domid)],
        [vifLibxlPath(m.domid, m.devid), LIBXL_PATH],
      ] as const)
        await removeEmptyParents(xs, p, stop).catch((e: unknown) => log(`rm ${p}: ${errText(e)}`));
      const errNode = `${home}/error/backend/vif/${m.domid}/${m.devid}`;
      await ctx.pathCleanup(xs, errNode, home).catch(() => undefined);
      await ctx.dropRec(m.domid, m.devid);
      report({ t: "vif-detached", id: m.id, closed });
    } catch (e) {
      report({ t: "vif-detached", id: m.id, closed: false, error: errText(e) });
    }
  };

  return {
    handle(from, data) {
      if (from !== MACHINE || typeof data !== "object" || data === null) return false;
      const m = data as { t?: unknown; id?: unknown };
      if (typeof m.id !== "number") return false;
      if (m.t === MSG_ATTACH_VIF) {
        const a = data as AttachVifMsg;
        if (typeof a.vif?.domid !== "number" || typeof a.vif.vif?.devid !== "number") return false;
        void attach(a);
        return true;
      }
      if (m.t === MSG_DETACH_VIF) {
        const d = data as DetachVifMsg;
        if (typeof d.domid !== "number" || typeof d.devid !== "number") return false;
        void detach(d);
        return true;
      }
      if (m.t === MSG_HOTPLUG_DONE) {
        const h = data as HotplugDoneMsg;
        const done = scripts.get(h.id);
        scripts.delete(h.id);
        done?.({ ok: h.code === 0, message: String(h.message ?? "").slice(0, 1024) });
        return true;
      }
      return false;
    },

    runScript(spec, backendDir, action) {
      const script = spec.vif.script;
      if (script === undefined) return Promise.resolve({ ok: true, message: "" });
      const id = nextScript++;
      const name = `vif${spec.domid}.${spec.vif.devid}`;
      return new Promise<ScriptOutcome>((resolve) => {
        const timer = dom.timers.after(HOTPLUG_SCRIPT_MS, () => {
          scripts.delete(id);
          resolve({
            ok: false,
            message: `${script} ${action}: no answer within ${HOTPLUG_SCRIPT_MS / 1000} s`,
          });
        });
        scripts.set(id, (o) => {
          dom.timers.cancel(timer);
          if (!o.ok) log(`hotplug ${name}: ${script} ${action} failed: ${o.message}`);
          resolve(o);
        });
        report({
          t: "hotplug-run",
          id,
          script,
          action,
          env: {
            script,
            XENBUS_TYPE: "vif",
            // libxl's form: relative to Domain-0's home, as xenstore-read resolves it.
            XENBUS_PATH: backendDir.slice(domainPath(dom.domid).length + 1),
            XENBUS_BASE_PATH: "backend",
            vif: name,
          },
        });
      });
    },

    async hotplugError(backendDir, message) {
      await xs.transaction(async (tx) => {
        // A device removed meanwhile is not written back into existence.
        if (!(await tx.exists(`${backendDir}/${KEY_HOTPLUG_STATUS}`))) return;
        await tx.write(`${backendDir}/hotplug-error`, message);
        await tx.write(`${backendDir}/${KEY_HOTPLUG_STATUS}`, HOTPLUG_ERROR);
      });
    },
  };
}

/** Removes each parent of the (removed) `path` below `stop` that is empty, nearest first. */
async function removeEmptyParents(xs: XsClient, path: string, stop: string): Promise<void> {
  for (let p = parentOf(path); p.length > stop.length && p.startsWith(`${stop}/`); p = parentOf(p)) {
    // Checked and removed in one transaction: a device written meanwhile is never removed.
    const emptied = await xs.transaction(async (tx) => {
      const kids = await tx.directory(p).catch(() => null);
      if (kids === null || kids.length > 0) return false;
      await tx.rm(p);
      return true;
    });
    if (!emptied) return;
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
