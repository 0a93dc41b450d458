import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { PvnetError } from "../../src/base/errors.js";
import { MAX_BRIDGES, Netmapd } from "../../src/netmapd/daemon.js";
import { parseValeCtlArgs, type ValeCtlCmd } from "../../src/netmapd/vale-ctl.js";
import { attachRemotePort } from "../../src/vale/remote.js";
import { ValeSwitch } from "../../src/vale/switch.js";

function cmd(...argv: string[]): ValeCtlCmd {
  const c = parseValeCtlArgs(argv);
  if ("error" in c) throw new Error(c.error);
  return c;
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof PvnetError, String(e));
    return e.code;
  }
  return "no error";
}

test("vale-ctl's command line: the original's options, the last action wins, -l with or without a name", () => {
  assert.deepEqual(parseValeCtlArgs([]), { op: "list", name: null });
  assert.deepEqual(parseValeCtlArgs(["-l"]), { op: "list", name: null });
  assert.deepEqual(parseValeCtlArgs(["-l", "vale0:a"]), { op: "list", name: "vale0:a" });
  assert.deepEqual(parseValeCtlArgs(["-a", "vale0:vi0"]), { op: "attach", name: "vale0:vi0", host: false });
  assert.deepEqual(parseValeCtlArgs(["-h", "vale0:eth0"]), { op: "attach", name: "vale0:eth0", host: true });
  assert.deepEqual(parseValeCtlArgs(["-n", "vi0", "-C", "256"]), { op: "newif", name: "vi0", slots: 256 });
  assert.deepEqual(parseValeCtlArgs(["-C", "512,512,1,1", "-n", "vi1"]), {
    op: "newif",
    name: "vi1",
    slots: 512,
  });
  assert.deepEqual(parseValeCtlArgs(["-a", "vale0:x", "-d", "vale0:x"]), { op: "detach", name: "vale0:x" });
  const errs: [string[], RegExp][] = [
    [["-a"], /-a: expected an interface name/],
    [["-x"], /-x: unknown option/],
    [["vale0:a"], /unexpected argument "vale0:a"/],
    [["-n", "vi0", "-C", "abc"], /-C: expected tx_slots/],
    [["-n", "vi0", "-C", "100000"], /tx_slots must be from 2 to 4096/],
    [["-n", "vi0", "-C", "256,128"], /rx_slots must equal tx_slots/],
    [["-n", "vi0", "-C", "256,256,2"], /one ring pair/],
    [["-a", "vale0:a", "-C", "256"], /-C: only configures an interface created with -n/],
    [["-m", "1"], /-m: every pvnet interface has a memory region of its own/],
    [["-p", "vale0:a"], /no polling threads/],
  ];
  for (const [argv, re] of errs) {
    const r = parseValeCtlArgs(argv);
    assert.ok("error" in r, argv.join(" "));
    assert.match(r.error, re);
  }
});

test("vale-ctl's parser: any argument list gives a command or an error, never an exception", () => {
  const word = fc.oneof(
    fc.constantFrom("-a", "-h", "-d", "-n", "-r", "-l", "-g", "-C", "-m", "-p", "-P", "-z", "--", ""),
    fc.string({ maxLength: 12 }),
  );
  fc.assert(
    fc.property(fc.array(word, { maxLength: 8 }), (argv) => {
      const r = parseValeCtlArgs(argv);
      assert.ok("error" in r ? typeof r.error === "string" && r.error.length > 0 : typeof r.op === "string");
    }),
  );
});

test("netmapd: -n, -a, -l, -g, -d, -r act as netmap's, with netmap's bridge and port numbering", async () => {
  const d = new Netmapd();
  try {
    assert.deepEqual(d.valeCtl(cmd("-l")), []);
    d.valeCtl(cmd("-n", "vi0"));
    d.valeCtl(cmd("-n", "vi1", "-C", "256"));
    assert.equal(
      code(() => d.valeCtl(cmd("-n", "vi0"))),
      "EEXIST",
    );
    assert.equal(
      code(() => d.valeCtl(cmd("-n", "vale9"))),
      "EINVAL",
    );
    assert.equal(
      code(() => d.valeCtl(cmd("-n", "bad:name"))),
      "EINVAL",
    );
    d.valeCtl(cmd("-a", "vale0:vi0"));
    d.valeCtl(cmd("-a", "vale1:vi1"));
    assert.equal(
      code(() => d.valeCtl(cmd("-a", "vale0:vi0"))),
      "EBUSY",
    );
    assert.equal(
      code(() => d.valeCtl(cmd("-a", "vale2:vi0"))),
      "EBUSY",
      "one switch at a time",
    );
    assert.equal(
      code(() => d.valeCtl(cmd("-a", "vale0:nope"))),
      "ENXIO",
    );
    assert.equal(
      code(() => d.valeCtl(cmd("-h", "vale0:vi1"))),
      "EINVAL",
      "no host rings on a virtual interface",
    );
    assert.equal(
      code(() => d.valeCtl(cmd("-a", "netmap:vi1"))),
      "EINVAL",
    );
    assert.deepEqual(d.valeCtl(cmd("-l")), ["bridge:0 port:0 vale0:vi0", "bridge:1 port:0 vale1:vi1"]);
    assert.deepEqual(d.valeCtl(cmd("-l", "vale1:vi1")), ["vale1:vi1 at bridge:1 port:0"]);
    assert.equal(
      code(() => d.valeCtl(cmd("-l", "vale1:zz"))),
      "ENXIO",
    );
    const info = d.valeCtl(cmd("-g", "vi1"));
    assert.equal(info[0], "vi1: 1 queues. 256 slots.");
    assert.match(info[1], /^vale1:vi1: txPackets 0 txBytes 0 rxPackets 0 rxBytes 0 rxDrops 0 txErrors 0$/);
    assert.equal(
      code(() => d.valeCtl(cmd("-r", "vi0"))),
      "EBUSY",
      "attached interfaces stay",
    );
    // Detaching the last port of vale0 removes the switch; its bridge slot is reused.
    d.valeCtl(cmd("-d", "vale0:vi0"));
    assert.equal(d.switch("vale0"), undefined);
    assert.equal(
      code(() => d.valeCtl(cmd("-d", "vale0:vi0"))),
      "ENXIO",
    );
    d.valeCtl(cmd("-a", "vale7:vi0"));
    assert.deepEqual(d.valeCtl(cmd("-l")), ["bridge:0 port:0 vale7:vi0", "bridge:1 port:0 vale1:vi1"]);
    d.valeCtl(cmd("-d", "vale7:vi0"));
    d.valeCtl(cmd("-r", "vi0"));
    assert.deepEqual(d.interfaces(), ["vi1"]);
    assert.equal(
      code(() => d.valeCtl(cmd("-r", "vi0"))),
      "ENXIO",
    );
  } finally {
    await d.close();
  }
});

test("netmapd: at most netmap's 8 switches; ports open once at a time; names are checked", async () => {
  const d = new Netmapd();
  try {
    for (let i = 0; i < MAX_BRIDGES; i++) {
      d.valeCtl(cmd("-n", `v${i}`));
      d.valeCtl(cmd("-a", `vale${i}:v${i}`));
    }
    d.valeCtl(cmd("-n", "v8"));
    assert.equal(
      code(() => d.valeCtl(cmd("-a", "vale8:v8"))),
      "ENOSPC",
    );
    assert.equal(
      code(() => d.open("vale8:x")),
      "ENOSPC",
    );
    // An ephemeral port on an existing switch, once at a time.
    const a = d.open("vale0:a");
    assert.equal(
      code(() => d.open("vale0:a")),
      "EBUSY",
    );
    assert.deepEqual(
      d
        .ports()
        .filter((p) => p.bridge === 0)
        .map((p) => p.name),
      ["vale0:v0", "vale0:a"],
    );
    await a.release();
    assert.deepEqual(
      d
        .ports()
        .filter((p) => p.bridge === 0)
        .map((p) => p.name),
      ["vale0:v0"],
      "gone at close",
    );
    // A persistent interface, by either name.
    const v = d.open("netmap:v1");
    assert.equal(
      code(() => d.open("vale1:v1")),
      "EBUSY",
    );
    await v.release();
    (await Promise.resolve(d.open("vale1:v1"))).release();
    assert.equal(
      code(() => d.open("netmap:nothere")),
      "ENXIO",
    );
    assert.equal(
      code(() => d.open("vale0:a^")),
      "EINVAL",
    );
    assert.equal(
      code(() => d.open("vale0:a/t")),
      "EOPNOTSUPP",
    );
    assert.equal(
      code(() => d.open("vale0:")),
      "EINVAL",
    );
    // Pipe ends: each bound once per pipe; the pipe is renewed when both are closed.
    const m = d.open("vale0:p{1");
    const s = d.open("vale0:p}1");
    assert.equal(m.desc.sab, s.desc.sab, "both ends share one region (zero copy)");
    assert.equal(
      code(() => d.open("vale0:p{1")),
      "EBUSY",
    );
    await m.release();
    assert.equal(
      code(() => d.open("vale0:p{1")),
      "EBUSY",
      "still bound while the other end is open",
    );
    await s.release();
    const again = d.open("vale0:p{1");
    assert.notEqual(again.desc.sab, m.desc.sab, "a new pipe");
    await again.release();
  } finally {
    await d.close();
  }
});

test("netmapd over a host's switches: they come first, list their own ports, and stay when tools' ports leave", async () => {
  const vale0 = new ValeSwitch("vale0");
  const lan = new ValeSwitch("vale5");
  // A port the host attached itself (a vif), not through netmapd.
  const vif = attachRemotePort(vale0, "vif1.0", 64);
  const d = new Netmapd({ switches: [vale0, lan] });
  try {
    assert.deepEqual(d.valeCtl(cmd("-l")), ["bridge:0 port:0 vif1.0"]);
    const lease = d.open("vale5:p");
    d.valeCtl(cmd("-n", "vi0"));
    d.valeCtl(cmd("-a", "vale0:vi0"));
    const other = d.open("vale7:q");
    assert.deepEqual(d.valeCtl(cmd("-l")), [
      "bridge:0 port:0 vif1.0",
      "bridge:0 port:1 vale0:vi0",
      "bridge:1 port:0 vale5:p",
      "bridge:2 port:0 vale7:q",
    ]);
    await lease.release();
    await other.release();
    d.valeCtl(cmd("-d", "vale0:vi0"));
    d.valeCtl(cmd("-r", "vi0"));
    // The host's switches stay, empty or not; the tool's own went with its last port.
    assert.equal(d.switch("vale5"), lan);
    assert.equal(d.switch("vale0"), vale0);
    assert.equal(d.switch("vale7"), undefined);
    assert.deepEqual(d.valeCtl(cmd("-l")), ["bridge:0 port:0 vif1.0"]);
  } finally {
    await d.close();
    await vif.stop();
  }
  // More host switches than netmap's default: each has its slot, and no room is left.
  const many = Array.from({ length: MAX_BRIDGES + 1 }, (_, i) => new ValeSwitch(`vale${i}`));
  const d2 = new Netmapd({ switches: many });
  try {
    const l = d2.open(`vale${MAX_BRIDGES}:a`);
    assert.equal(d2.ports()[0]?.bridge, MAX_BRIDGES);
    await l.release();
    assert.equal(
      code(() => d2.open("valez:a")),
      "ENOSPC",
    );
  } finally {
    await d2.close();
  }
});
