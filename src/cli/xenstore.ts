/**
 * `pvnet xenstored --socket PATH`: a standalone daemon on a unix socket, for xenstore-utils
 * (XENSTORED_PATH=PATH) and for `pvnet xenstore ...`, our own client tools.
 */
import { type Command, InvalidArgumentError } from "commander";
import { PvnetError } from "../base/errors.js";
import type { XsClient } from "../xenstore/client.js";
import { defaultXsSocketPath } from "../xenstore/transport/socket-client.js";
import { ENV_HELP } from "./env-help.js";
import { withSocketHint } from "./netmapd.js";
import { exitAfterSignal, untilSignal } from "./signals.js";
import { socketPathArg, usage } from "./style.js";
import type { ToolIo } from "./xenstore-tools.js";
import { locateXsSocket } from "./xs-locate.js";

// The daemon, the client and the tools load when a command runs, so `pvnet` starts fast.
const tools = () => import("./xenstore-tools.js");

interface SocketOpt {
  socket?: string;
}

/** Standard streams; error lines get the tool's name first, as xenstore-utils print theirs. */
function stdio(tool: string): ToolIo {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(`pvnet xenstore ${tool}: ${s}`),
    width: process.stdout.isTTY ? process.stdout.columns : 80,
  };
}

/** Connects, runs one tool, closes; the tool's status becomes the exit code. */
async function withClient(cmd: Command, run: (c: XsClient, io: ToolIo) => Promise<number>): Promise<void> {
  const o = cmd.optsWithGlobals<SocketOpt>();
  const found = o.socket === undefined ? await locateXsSocket() : null;
  const path = o.socket ?? found!.path;
  const { XsClient } = await import("../xenstore/client.js");
  const client = await XsClient.connect(path).catch((e: unknown) => {
    throw noDaemon(e, path, found?.via === "default" ? found.hostPath : null);
  });
  try {
    process.exitCode = await run(client, stdio(cmd.name()));
  } finally {
    client.close();
  }
}

/** A failed connect, said as what it means for the user. */
function noDaemon(e: unknown, path: string, hostPath: string | null): unknown {
  if (!(e instanceof PvnetError)) return e;
  const why: Record<string, string> = {
    ENOENT: "no socket there",
    ECONNREFUSED: "a stale socket: nothing answers",
    EACCES: "permission denied",
  };
  // The transport reports every connect failure as EIO, with the errno in its message.
  const errno = /connect (E[A-Z]+)/.exec(e.message)?.[1] ?? e.code;
  const reason = why[errno];
  if (reason === undefined) return e;
  // Looked for a running pvnet host first: say so, the likelier thing to start.
  const host = hostPath === null ? "" : `; no pvnet host is running either (none at ${hostPath})`;
  return new PvnetError(
    errno,
    `no xenstored at ${path} (${reason}${host}; start one with pvnet up or pvnet xenstored, or give --socket PATH)`,
  );
}

function countOpt(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

async function runXenstored(path: string): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const { Xenstored } = await import("../xenstore/daemon.js");
  const { XsSocketServer } = await import("../xenstore/transport/socket.js");
  const server = await XsSocketServer.listen(new Xenstored({ log }), path, { log }).catch((e: unknown) => {
    throw withSocketHint(e);
  });
  // The handlers go in before the line that says the daemon is ready: whoever waits for
  // that line may signal at once, before another statement of this process runs.
  const stopped = untilSignal("xenstored", log);
  log(`xenstored: listening on ${server.path}`);
  await stopped;
  await server.close();
  exitAfterSignal();
}

export function xenstoredCommand(program: Command): void {
  program
    .command("xenstored")
    .description("run a standalone xenstore daemon on a unix socket (until SIGINT/SIGTERM)")
    .option(
      "--socket <path>",
      "socket path (default: $XENSTORED_PATH or $XENSTORED_RUNDIR/socket)",
      socketPathArg,
    )
    .addHelpText(
      "after",
      [
        "",
        "Debian's xenstore-utils work against it as on a Xen host: XENSTORED_PATH=PATH xenstore-ls.",
        "The socket's directory is created when missing. A second xenstored on a socket a live",
        "one answers on is refused (already running); a socket nobody answers on is replaced.",
        ENV_HELP.xenstored,
      ].join("\n"),
    )
    .action(async (o: SocketOpt) => {
      await runXenstored(o.socket ?? defaultXsSocketPath());
    });
}

const TOOL_SOCKET_HELP =
  "daemon socket (default: $XENSTORED_PATH, else a running pvnet host's, else $XENSTORED_RUNDIR/socket)";

export function xenstoreCommand(program: Command): void {
  const xs = program
    .command("xenstore")
    .description("xenstore client tools with xenstore-utils' output")
    .option("--socket <path>", TOOL_SOCKET_HELP, socketPathArg)
    .addHelpText(
      "after",
      [
        "",
        "Each tool takes the flags of its xenstore-utils namesake (xenstore-read, ...), prints",
        "the same bytes and exits with the same status. -s (talk to the daemon's socket",
        "directly) is accepted by every tool and changes nothing: the socket is the only way here.",
        "",
        "Without --socket the daemon is, in this order: $XENSTORED_PATH; else a running pvnet",
        "host's (pvnet up's xenstored.sock in its run directory, when something answers there);",
        "else libxenstore's default, $XENSTORED_RUNDIR/socket (/var/run/xenstored/socket).",
        ENV_HELP.xenstored,
      ].join("\n"),
    );

  // --socket is accepted before or after the tool name.
  const SOCKET_HELP = TOOL_SOCKET_HELP;
  const tool = (name: string): Command =>
    xs
      .command(name)
      .option("--socket <path>", SOCKET_HELP, socketPathArg)
      .option("-s", "connect to the daemon's socket (always the case here)")
      .addHelpText("after", ENV_HELP.xenstored);
  tool("read")
    .description("print the values of keys")
    .argument("<key...>")
    .option("-p", "prefix each value with its path")
    .option("-R", "raw: print values unescaped, without newline")
    .action((keys: string[], o: { p?: boolean; R?: boolean }, cmd: Command) =>
      withClient(cmd, async (c, io) =>
        (await tools()).toolRead(c, keys, { prefix: o.p === true, raw: o.R === true }, io),
      ),
    );
  tool("write")
    .description("write key/value pairs (values take \\ escapes)")
    .argument("<key-value...>")
    .option("-R", "raw: take values literally")
    .action(async (args: string[], o: { R?: boolean }, cmd: Command) => {
      if (args.length % 2 !== 0)
        throw usage(`${args.length} arguments`, "expected key value pairs: a value for every key");
      await withClient(cmd, async (c, io) => (await tools()).toolWrite(c, args, { raw: o.R === true }, io));
    });
  tool("ls")
    .description("print the tree below a path")
    .argument("[path]", "where to start", "/")
    .option("-p", "show each node's permissions")
    .option("-f", "show whole paths, values never cut")
    .action((path: string, o: { p?: boolean; f?: boolean }, cmd: Command) =>
      withClient(cmd, async (c, io) =>
        (await tools()).toolLs(c, path, { perms: o.p === true, full: o.f === true }, io),
      ),
    );
  tool("list")
    .description("print the children of keys")
    .argument("<key...>")
    .option("-p", "print whole paths")
    .action((keys: string[], o: { p?: boolean }, cmd: Command) =>
      withClient(cmd, async (c, io) => (await tools()).toolList(c, keys, { prefix: o.p === true }, io)),
    );
  tool("exists")
    .description("exit 0 if every key exists, 1 otherwise")
    .argument("<key...>")
    .option("-p", "accepted for xenstore-exists' sake; prints nothing either way")
    .action((keys: string[], _o: unknown, cmd: Command) =>
      withClient(cmd, async (c) => (await tools()).toolExists(c, keys)),
    );
  tool("rm")
    .description("remove keys and their subtrees")
    .argument("<key...>")
    .option("-t", "tidy: then remove each parent left with no children and an empty value")
    .action((keys: string[], o: { t?: boolean }, cmd: Command) =>
      withClient(cmd, async (c, io) => (await tools()).toolRm(c, keys, io, { tidy: o.t === true })),
    );
  tool("chmod")
    .description("set permissions: owner first, then n|r|w|b<domid> entries")
    .argument("<key>")
    .argument("[perm...]")
    .option("-r", "apply to the whole subtree")
    .option("-u", "apply to every parent up to the first path component too")
    .action((key: string, perms: string[], o: { r?: boolean; u?: boolean }, cmd: Command) =>
      withClient(cmd, async (c, io) =>
        (await tools()).toolChmod(c, key, perms, { recurse: o.r === true, upto: o.u === true }, io),
      ),
    );
  tool("watch")
    .description("print the path of every change at or below a key (status 1 if the daemon goes away)")
    .argument("<key>")
    .option("-n <count>", "stop after this many events (the initial one included)", countOpt)
    .action((key: string, o: { n?: number }, cmd: Command) =>
      withClient(cmd, async (c, io) =>
        (await tools()).toolWatch(c, key, o.n === undefined ? {} : { count: o.n }, io),
      ),
    );
}
