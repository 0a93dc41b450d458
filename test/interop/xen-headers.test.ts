/**
 * Differential test against Xen's real public headers (Debian's libxen-dev, Xen 4.17).
 * A C program generated from the TypeScript modules' exports prints, as JSON, sizeof and
 * offsetof of every struct field we lay out and the value of every constant we define,
 * compiled for x86-64 against <xen/...>; each must equal our value.
 *
 * Every numeric export is checked under its own name unless listed below as derived
 * (checked through a C expression) or absent from the 4.17 headers (Linux-only or
 * master-only; those are checked to be absent where they are macros). Without cc or the
 * headers the tests skip with the reason; they never pass silently.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import * as evtchn from "../../src/wire/xen/evtchn.js";
import * as grant from "../../src/wire/xen/grant.js";
import * as netif from "../../src/wire/xen/netif.js";
import * as ctrl from "../../src/wire/xen/netif-ctrl.js";
import { ringEntries } from "../../src/wire/xen/sring.js";
import * as xsRing from "../../src/wire/xen/xs-ring.js";
import * as xsWire from "../../src/wire/xen/xs-wire.js";

type Fields = Readonly<Record<string, readonly [number, number]>>;
type Module = Readonly<Record<string, unknown>>;

const MODULES: Record<string, Module> = { netif, ctrl, grant, evtchn, xsWire, xsRing };

/** [module, C type, size export, field-table export]. */
const LAYOUTS: [string, string, string, string][] = [
  ["netif", "struct netif_tx_request", "NETIF_TX_REQUEST_SIZE", "NETIF_TX_REQUEST_FIELDS"],
  ["netif", "struct netif_tx_response", "NETIF_TX_RESPONSE_SIZE", "NETIF_TX_RESPONSE_FIELDS"],
  ["netif", "struct netif_rx_request", "NETIF_RX_REQUEST_SIZE", "NETIF_RX_REQUEST_FIELDS"],
  ["netif", "struct netif_rx_response", "NETIF_RX_RESPONSE_SIZE", "NETIF_RX_RESPONSE_FIELDS"],
  ["netif", "struct netif_extra_info", "NETIF_EXTRA_INFO_SIZE", "NETIF_EXTRA_GSO_FIELDS"],
  ["netif", "struct netif_extra_info", "NETIF_EXTRA_INFO_SIZE", "NETIF_EXTRA_MCAST_FIELDS"],
  ["netif", "struct netif_extra_info", "NETIF_EXTRA_INFO_SIZE", "NETIF_EXTRA_HASH_FIELDS"],
  ["ctrl", "struct xen_netif_ctrl_request", "XEN_NETIF_CTRL_REQUEST_SIZE", "XEN_NETIF_CTRL_REQUEST_FIELDS"],
  [
    "ctrl",
    "struct xen_netif_ctrl_response",
    "XEN_NETIF_CTRL_RESPONSE_SIZE",
    "XEN_NETIF_CTRL_RESPONSE_FIELDS",
  ],
  ["ctrl", "struct xen_netif_gref", "XEN_NETIF_GREF_SIZE", "XEN_NETIF_GREF_FIELDS"],
  ["grant", "struct grant_entry_v1", "GRANT_ENTRY_V1_SIZE", "GRANT_ENTRY_V1_FIELDS"],
  ["grant", "struct gnttab_copy", "GNTTAB_COPY_SIZE", "GNTTAB_COPY_FIELDS"],
  ["grant", "struct gnttab_map_grant_ref", "GNTTAB_MAP_GRANT_REF_SIZE", "GNTTAB_MAP_GRANT_REF_FIELDS"],
  ["grant", "struct gnttab_unmap_grant_ref", "GNTTAB_UNMAP_GRANT_REF_SIZE", "GNTTAB_UNMAP_GRANT_REF_FIELDS"],
  ["evtchn", "struct evtchn_alloc_unbound", "EVTCHN_ALLOC_UNBOUND_SIZE", "EVTCHN_ALLOC_UNBOUND_FIELDS"],
  [
    "evtchn",
    "struct evtchn_bind_interdomain",
    "EVTCHN_BIND_INTERDOMAIN_SIZE",
    "EVTCHN_BIND_INTERDOMAIN_FIELDS",
  ],
  ["evtchn", "struct evtchn_send", "EVTCHN_SEND_SIZE", "EVTCHN_SEND_FIELDS"],
  ["evtchn", "struct evtchn_close", "EVTCHN_CLOSE_SIZE", "EVTCHN_CLOSE_FIELDS"],
  ["xsWire", "struct xsd_sockmsg", "XSD_SOCKMSG_SIZE", "XSD_SOCKMSG_FIELDS"],
  [
    "xsRing",
    "struct xenstore_domain_interface",
    "XENSTORE_DOMAIN_INTERFACE_SIZE",
    "XENSTORE_DOMAIN_INTERFACE_FIELDS",
  ],
];

/** Fields the accessors read as signed (m.i16); every other scalar field is unsigned. */
const SIGNED = new Set([
  "struct netif_tx_response.status",
  "struct netif_rx_response.status",
  "struct gnttab_copy.status",
  "struct gnttab_map_grant_ref.status",
  "struct gnttab_unmap_grant_ref.status",
]);
/** Arrays and unions: no signedness. */
const NOT_SCALAR = new Set(["u.mcast.addr", "u.hash.value", "source.u", "dest.u", "req", "rsp"]);

/** pvnet names for values the headers compute: checked through these C expressions. */
const DERIVED: Record<string, string> = {
  NETIF_TX_ENTRY_SIZE: "sizeof(union netif_tx_sring_entry)",
  NETIF_RX_ENTRY_SIZE: "sizeof(union netif_rx_sring_entry)",
  NET_TX_RING_SIZE: "__CONST_RING_SIZE(netif_tx, 4096)",
  NET_RX_RING_SIZE: "__CONST_RING_SIZE(netif_rx, 4096)",
  XEN_NETIF_CTRL_ENTRY_SIZE: "sizeof(union xen_netif_ctrl_sring_entry)",
  XEN_NETIF_CTRL_RING_SIZE: "__CONST_RING_SIZE(xen_netif_ctrl, 4096)",
  GRANT_ENTRIES_PER_FRAME: "4096 / sizeof(struct grant_entry_v1)",
  XS_RING_REQ_OFF: "offsetof(struct xenstore_domain_interface, req)",
  XS_RING_RSP_OFF: "offsetof(struct xenstore_domain_interface, rsp)",
};

/** Not in Xen 4.17's headers, with the reason. Macros among them must be undefined there. */
const ABSENT: Record<string, { why: string; macro: boolean }> = {
  XEN_NETIF_EXTRA_TYPE_XDP: { why: "Linux-only (Linux's copy of netif.h)", macro: true },
  NETIF_EXTRA_XDP_FIELDS: { why: "Linux-only union member u.xdp", macro: false },
  XS_GET_FEATURE: { why: "master-only", macro: false },
  XS_SET_FEATURE: { why: "master-only", macro: false },
  XS_GET_QUOTA: { why: "master-only", macro: false },
  XS_SET_QUOTA: { why: "master-only", macro: false },
};

const HEADER_FILES = [
  "io/netif.h",
  "io/ring.h",
  "io/xs_wire.h",
  "grant_table.h",
  "event_channel.h",
  "xen.h",
].map((f) => `/usr/include/xen/${f}`);
const HAVE_HEADERS = HEADER_FILES.every((f) => existsSync(f));
const HAVE_CC = spawnSync("cc", ["--version"], { stdio: "ignore" }).status === 0;

function ready(t: TestContext): boolean {
  if (!HAVE_HEADERS) t.skip("libxen-dev headers not installed");
  else if (!HAVE_CC) t.skip("cc not installed");
  else if (process.arch !== "x64") t.skip(`the checked layouts are x86-64's; this host is ${process.arch}`);
  else return true;
  return false;
}

interface Check {
  key: string;
  c: string;
  ts: number;
}

function layoutChecks(): Check[] {
  const out: Check[] = [];
  for (const [mod, ctype, sizeName, fieldsName] of LAYOUTS) {
    const m = MODULES[mod];
    out.push({ key: `sizeof(${ctype})`, c: `sizeof(${ctype})`, ts: m[sizeName] as number });
    for (const [field, [off, width]] of Object.entries(m[fieldsName] as Fields)) {
      out.push({ key: `offsetof(${ctype}, ${field})`, c: `offsetof(${ctype}, ${field})`, ts: off });
      out.push({ key: `sizeof(${ctype}.${field})`, c: `sizeof(((${ctype} *)0)->${field})`, ts: width });
      if (NOT_SCALAR.has(field)) continue;
      const c = `(__typeof__(((${ctype} *)0)->${field}))-1 < 0`;
      out.push({ key: `signed(${ctype}.${field})`, c, ts: SIGNED.has(`${ctype}.${field}`) ? 1 : 0 });
    }
  }
  return out;
}

function constantChecks(): Check[] {
  const sizes = new Set(LAYOUTS.map(([, , s]) => s));
  const out: Check[] = [];
  for (const m of Object.values(MODULES)) {
    for (const [name, v] of Object.entries(m)) {
      if (typeof v !== "number" || sizes.has(name) || name in ABSENT) continue;
      out.push({ key: name, c: DERIVED[name] ?? name, ts: v });
    }
  }
  for (const order of [0, 1, 2, 3, 4]) {
    const area = 4096 << order;
    for (const [ring, entry] of [
      ["netif_tx", netif.NETIF_TX_ENTRY_SIZE],
      ["netif_rx", netif.NETIF_RX_ENTRY_SIZE],
      ["xen_netif_ctrl", ctrl.XEN_NETIF_CTRL_ENTRY_SIZE],
    ] as const) {
      const c = `__CONST_RING_SIZE(${ring}, ${area})`;
      out.push({ key: c, c, ts: ringEntries(area, entry) });
    }
  }
  for (const idx of [0, 1, 1023, 1024, 1025, 0x7fffffff, 0xffffffff]) {
    const c = `MASK_XENSTORE_IDX(${idx}u)`;
    out.push({ key: c, c, ts: xsRing.MASK_XENSTORE_IDX(idx) });
  }
  for (const [type, name] of xsWire.XS_TYPE_NAMES.entries()) {
    if (name !== undefined && xsWire.isXsType417(type)) out.push({ key: `enum ${name}`, c: name, ts: type });
  }
  return out;
}

function cProgram(checks: Check[]): string {
  const lines = checks.map((k) => `  printf("  \\"%s\\": %lld,\\n", "${k.key}", (long long)(${k.c}));`);
  const absent = Object.entries(ABSENT)
    .filter(([, a]) => a.macro)
    .map(([n]) => `#ifdef ${n}\n  printf("  \\"defined:${n}\\": 1,\\n");\n#endif`);
  return `#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <errno.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/event_channel.h>
#include <xen/io/ring.h>
#include <xen/io/netif.h>
#include <xen/io/xs_wire.h>
#if !defined(__x86_64__)
#error "layouts are checked for x86-64"
#endif
static const char *gnttab_msgs[] = GNTTABOP_error_msgs;
int main(void) {
  printf("{\\n");
${lines.join("\n")}
${absent.join("\n")}
  printf("  \\"XS_WRITE_NONE\\": \\"%s\\",\\n", XS_WRITE_NONE);
  printf("  \\"XS_WRITE_CREATE\\": \\"%s\\",\\n", XS_WRITE_CREATE);
  printf("  \\"XS_WRITE_CREATE_EXCL\\": \\"%s\\",\\n", XS_WRITE_CREATE_EXCL);
  printf("  \\"GNTTABOP_error_msgs.length\\": %zu,\\n", sizeof(gnttab_msgs) / sizeof(gnttab_msgs[0]));
  printf("  \\"xsd_errors\\": [");
  for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
    printf("%s{\\"errnum\\": %d, \\"errstring\\": \\"%s\\"}", i ? ", " : "", xsd_errors[i].errnum, xsd_errors[i].errstring);
  printf("]\\n}\\n");
  return 0;
}
`;
}

let probe: { checks: Check[]; out: Record<string, unknown> } | Error | undefined;

/** Builds and runs the C probe once; throws with the compiler's output on failure. */
function runProbe(): { checks: Check[]; out: Record<string, unknown> } {
  if (probe instanceof Error) throw probe;
  if (probe) return probe;
  try {
    probe = buildProbe();
    return probe;
  } catch (e) {
    probe = e instanceof Error ? e : new Error(String(e));
    throw probe;
  }
}

function buildProbe(): { checks: Check[]; out: Record<string, unknown> } {
  const checks = [...layoutChecks(), ...constantChecks()];
  const dir = mkdtempSync(join(tmpdir(), "pvnet-xen-headers-"));
  try {
    writeFileSync(join(dir, "probe.c"), cProgram(checks));
    const cc = spawnSync(
      "cc",
      [
        "-std=gnu11",
        "-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__",
        "-o",
        "probe",
        "probe.c",
      ],
      { cwd: dir, encoding: "utf8" },
    );
    assert.equal(cc.status, 0, `cc failed:\n${cc.stderr}`);
    const run = spawnSync(join(dir, "probe"), { encoding: "utf8" });
    assert.equal(run.status, 0, `probe failed:\n${run.stderr}`);
    return { checks, out: JSON.parse(run.stdout) as Record<string, unknown> };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const LAYOUT_KEY = /^(sizeof|offsetof|signed)\(/;

function compare(t: TestContext, checks: Check[]): void {
  const { out } = runProbe();
  const bad = checks.filter((k) => out[k.key] !== k.ts).map((k) => ({ key: k.key, ts: k.ts, c: out[k.key] }));
  t.diagnostic(`${checks.length - bad.length}/${checks.length} agree with the C headers`);
  assert.deepEqual(bad, []);
}

test("struct sizes, field offsets, widths and signedness match Xen's headers", (t) => {
  if (!ready(t)) return;
  compare(
    t,
    runProbe().checks.filter((k) => LAYOUT_KEY.test(k.key)),
  );
});

test("every numeric constant, ring size and enum value matches Xen's headers", (t) => {
  if (!ready(t)) return;
  compare(
    t,
    runProbe().checks.filter((k) => !LAYOUT_KEY.test(k.key)),
  );
});

test("xs_wire.h's error table and write-mode strings, grant_table.h's message count", (t) => {
  if (!ready(t)) return;
  const { out } = runProbe();
  assert.deepEqual(
    out.xsd_errors,
    xsWire.XSD_ERRORS.map((e) => ({ ...e })),
  );
  assert.equal(out.XS_WRITE_NONE, xsWire.XS_WRITE_NONE);
  assert.equal(out.XS_WRITE_CREATE, xsWire.XS_WRITE_CREATE);
  assert.equal(out.XS_WRITE_CREATE_EXCL, xsWire.XS_WRITE_CREATE_EXCL);
  assert.equal(out["GNTTABOP_error_msgs.length"], grant.GNTTABOP_error_msgs.length);
});

test("names marked Linux-only or master-only are not macros of the 4.17 headers", (t) => {
  if (!ready(t)) return;
  const { out } = runProbe();
  for (const [name, a] of Object.entries(ABSENT)) {
    if (a.macro) assert.equal(out[`defined:${name}`], undefined, `${name} (${a.why}) is defined`);
  }
  assert.equal(
    xsWire.XS_GET_FEATURE,
    xsWire.XS_TYPE_COUNT,
    "master-only types start at 4.17's XS_TYPE_COUNT",
  );
});

test("every field table and numeric export is covered by a check", () => {
  const tables = new Set(LAYOUTS.map(([mod, , , f]) => `${mod}.${f}`));
  for (const [mod, m] of Object.entries(MODULES)) {
    for (const [name, v] of Object.entries(m)) {
      if (name.endsWith("_FIELDS"))
        assert.ok(tables.has(`${mod}.${name}`) || name in ABSENT, `${mod}.${name}`);
      if (typeof v === "number" && name in ABSENT) assert.ok(ABSENT[name].why.length > 0);
    }
  }
  const sizes = new Set(LAYOUTS.map(([, , s]) => s));
  for (const name of Object.keys(DERIVED)) assert.ok(!sizes.has(name), name);
});
