/**
 * A guest with offloads out through a tap uplink, judged by the Linux kernel: the guest
 * (netback's real TX path, programs/guest-offload.ts under scripts/pvnet-tap) sends a TCP
 * GSO superframe of 3 x MSS with a blank checksum and a UDP datagram with a blank checksum
 * toward a tap whose kernel side is in a network namespace. VALE segments and checksums
 * them for the tap (a port without offloads), and in the namespace:
 * - tshark, checking IP, TCP and UDP checksums, sees three MSS-sized segments with
 *   consecutive sequence numbers and IP ids, and the datagram, every checksum good;
 * - the kernel's UDP socket receives the datagram (it drops bad checksums);
 * - the kernel answers each TCP segment to its closed port with a RST (it drops bad
 *   checksums before that).
 * Without root, /dev/net/tun, ip, tshark or python3 the test skips with the reason.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { cleanup, ip, netnsUnavailable, spawnInNs } from "../netns.js";

const PROGRAM = fileURLToPath(new URL("./programs/guest-offload.js", import.meta.url));
const LAUNCHER = fileURLToPath(new URL("../../../../scripts/pvnet-tap", import.meta.url));
const GUEST_MAC = "02:00:00:00:98:01";
const GUEST_IP = "10.98.0.1";
const KERNEL_IP = "10.98.0.2";

function missing(): string | null {
  const ns = netnsUnavailable();
  if (ns !== null) return ns;
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  for (const [cmd, arg, pkg] of [
    ["tshark", "-v", "tshark"],
    ["python3", "-V", "python3"],
  ] as const)
    if (spawnSync(cmd, [arg], { stdio: "ignore" }).status !== 0)
      return `${cmd} is not installed (apt-get install ${pkg})`;
  return null;
}

/** Resolves with the first stdout line of `p` starting with `word`, or rejects after `ms`. */
function lineOf(p: ChildProcess, out: { text: string }, word: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const look = (): void => {
      const line = out.text.split("\n").find((l) => l === word || l.startsWith(`${word} `));
      if (line !== undefined) resolve(line.slice(word.length + 1));
      else if (Date.now() > end || p.exitCode !== null)
        reject(new Error(`no "${word}" line (exit ${p.exitCode}):\n${out.text}`));
      else setTimeout(look, 50);
    };
    look();
  });
}

test("a guest's TCP GSO superframe and blank-checksum UDP reach the kernel through a tap as good segments", {
  timeout: 120_000,
}, async (t) => {
  const why = missing();
  if (why !== null) return t.skip(why);
  const id = process.pid % 100000;
  const tap = `pvo${id}`;
  const ns = `pvnet-offload-${id}`;
  const out = { text: "" };
  let prog: ChildProcess | null = null;
  let shark: ChildProcess | null = null;
  let udp: ChildProcess | null = null;
  try {
    prog = spawn("python3", [LAUNCHER, tap, "--", process.execPath, PROGRAM], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    prog.stdout!.setEncoding("utf8").on("data", (c: string) => (out.text += c));
    prog.stderr!.setEncoding("utf8").on("data", (c: string) => (out.text += c));
    const plan = JSON.parse(await lineOf(prog, out, "ready", 30_000)) as {
      mss: number;
      seq0: number;
      tcpPort: number;
      udpPort: number;
    };
    ip(`netns add ${ns}`);
    ip(`link set ${tap} netns ${ns}`);
    ip("link set lo up", ns);
    ip(`addr add ${KERNEL_IP}/24 dev ${tap}`, ns);
    ip(`link set ${tap} up`, ns);
    // The guest answers no ARP: the kernel's RSTs need its address resolved beforehand.
    ip(`neigh replace ${GUEST_IP} lladdr ${GUEST_MAC} dev ${tap}`, ns);
    const mac = (JSON.parse(ip(`-j link show dev ${tap}`, ns)) as { address: string }[])[0]!.address;

    // tshark until the guest's 4 frames and the kernel's 3 RSTs are in (or 40 s).
    const fields = ["ip.src", "ip.id", "ip.checksum.status", "tcp.seq_raw", "tcp.len", "tcp.flags.reset"];
    const more = ["tcp.checksum.status", "udp.length", "udp.checksum.status"];
    shark = spawnInNs(ns, [
      "tshark",
      "-i",
      tap,
      "-l",
      "-n",
      "-c",
      "7",
      "-a",
      "duration:40",
      "-f",
      "tcp or udp",
      "-o",
      "ip.check_checksum:TRUE",
      "-o",
      "tcp.check_checksum:TRUE",
      "-o",
      "udp.check_checksum:TRUE",
      "-T",
      "fields",
      ...[...fields, ...more].flatMap((f) => ["-e", f]),
    ]);
    const shOut = { text: "" };
    shark.stdout!.setEncoding("utf8").on("data", (c: string) => (shOut.text += c));
    shark.stderr!.setEncoding("utf8").on("data", (c: string) => (shOut.text += c));
    const sharkDone = new Promise((r) => shark!.on("close", r));
    const capturing = Date.now() + 30_000;
    while (!shOut.text.includes("Capturing on")) {
      if (Date.now() > capturing || shark.exitCode !== null)
        assert.fail(`tshark did not start:\n${shOut.text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // A kernel socket: only a datagram whose checksum the kernel accepts gets here.
    udp = spawnInNs(ns, [
      "python3",
      "-c",
      `import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("${KERNEL_IP}",${plan.udpPort}));print("bound",flush=True);s.settimeout(40);d,a=s.recvfrom(65535);print("got",len(d),a[0],flush=True)`,
    ]);
    const udpOut = { text: "" };
    udp.stdout!.setEncoding("utf8").on("data", (c: string) => (udpOut.text += c));
    udp.stderr!.setEncoding("utf8").on("data", (c: string) => (udpOut.text += c));
    await lineOf(udp, udpOut, "bound", 30_000);

    prog.stdin!.write(`go ${mac} ${KERNEL_IP}\n`);
    const sent = JSON.parse(await lineOf(prog, out, "sent", 30_000)) as {
      soft: Record<string, number>;
      tap: Record<string, number>;
      txStatus: Record<string, number>;
      fatal: string[];
    };
    t.diagnostic(`pvnet: ${JSON.stringify(sent)}`);
    assert.deepEqual(sent.fatal, []);
    assert.deepEqual(sent.soft, { gsoFrames: 1, gsoSegments: 3, csumFilled: 1, offloadDrops: 0 });
    assert.equal(sent.tap.tx_packets, 4, "three segments and the datagram written to the tap");

    assert.match(
      await lineOf(udp, udpOut, "got", 45_000),
      new RegExp(`^300 ${GUEST_IP.replaceAll(".", "\\.")}`),
    );
    await sharkDone;
    const rows = shOut.text
      .split("\n")
      .filter((l) => /^\d/.test(l))
      .map((l) => l.split("\t"));
    t.diagnostic(`tshark:\n${rows.map((r) => r.join(" ")).join("\n")}`);
    const col = (r: string[], f: string): string => r[[...fields, ...more].indexOf(f)] ?? "";
    const fromGuest = rows.filter((r) => col(r, "ip.src") === GUEST_IP);
    const segs = fromGuest.filter((r) => col(r, "tcp.len") !== "");
    assert.equal(segs.length, 3, "three TCP segments");
    const id0 = Number(col(segs[0]!, "ip.id"));
    segs.forEach((r, i) => {
      assert.equal(Number(col(r, "tcp.len")), plan.mss, `segment ${i}: MSS bytes`);
      assert.equal(Number(col(r, "tcp.seq_raw")), (plan.seq0 + i * plan.mss) >>> 0, `segment ${i}: seq`);
      assert.equal(Number(col(r, "ip.id")), (id0 + i) & 0xffff, `segment ${i}: IP id`);
      // Wireshark's checksum status 1 is "Good".
      assert.equal(col(r, "ip.checksum.status"), "1", `segment ${i}: IP checksum`);
      assert.equal(col(r, "tcp.checksum.status"), "1", `segment ${i}: TCP checksum`);
    });
    const dgram = fromGuest.find((r) => col(r, "udp.length") !== "");
    assert.ok(dgram !== undefined, "the UDP datagram");
    assert.equal(col(dgram, "udp.length"), "308");
    assert.equal(col(dgram, "udp.checksum.status"), "1", "UDP checksum");
    const rsts = rows.filter(
      (r) => col(r, "ip.src") === KERNEL_IP && /^(1|True)$/.test(col(r, "tcp.flags.reset")),
    );
    assert.equal(rsts.length, 3, "the kernel accepted each segment and reset it (closed port)");
  } finally {
    shark?.kill("SIGKILL");
    udp?.kill("SIGKILL");
    if (prog !== null && prog.exitCode === null) {
      prog.stdin?.write("quit\n");
      await new Promise((r) => {
        const timer = setTimeout(() => {
          prog?.kill("SIGKILL");
          r(null);
        }, 10_000);
        prog?.on("close", () => {
          clearTimeout(timer);
          r(null);
        });
      });
    }
    cleanup([ns], [tap]);
  }
});
