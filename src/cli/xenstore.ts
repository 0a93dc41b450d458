/**
 * `pvnet xenstored --socket PATH`: a standalone daemon on a unix socket, for xenstore-utils
 * (XENSTORED_PATH=PATH) and for `pvnet xenstore ...`, our own client tools.
 */
import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";
import { XsClient } from "../xenstore/client.js";
import { Xenstored } from "../xenstore/daemon.js";
import { XsSocketServer } from "../xenstore/transport/socket.js";
import { defaultXsSocketPath } from "../xenstore/transport/socket-client.js";
import { untilSignal } from "./signals.js";
import {
  type ToolIo,
  toolChmod,
  toolExists,
  toolList,
  toolLs,
  toolRead,
  toolRm,
  toolWatch,
  toolWrite,
} from "./xenstore-tools.js";

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
  const client = await XsClient.connect(o.socket ?? defaultXsSocketPath());
  try {
    process.exitCode = await run(client, stdio(cmd.name()));
  } finally {
    client.close();
  }
}

function countOpt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new PvnetError("CONFIG", `-n: expected a positive integer, got "${v}"`);
  return n;
}

async function runXenstored(path: string): Promise<void> {
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const server = await XsSocketServer.listen(new Xenstored({ log }), path, { log });
  log(`xenstored: listening on ${server.path}`);
  await untilSignal("xenstored", log);
  await server.close();
}

export function xenstoredCommand(program: Command): void {
  program
    .command("xenstored")
    .description("run a standalone xenstore daemon on a unix socket (until SIGINT/SIGTERM)")
    .option("--socket <path>", "socket path (default: $XENSTORED_PATH or $XENSTORED_RUNDIR/socket)")
    .action(async (o: SocketOpt) => {
      await runXenstored(o.socket ?? defaultXsSocketPath());
    });
}

export function xenstoreCommand(program: Command): void {
  const xs = program
    .command("xenstore")
    .description("xenstore client tools with xenstore-utils' output")
    .option("--socket <path>", "daemon socket (default: $XENSTORED_PATH or $XENSTORED_RUNDIR/socket)");

  // --socket is accepted before or after the tool name.
  const SOCKET_HELP = "daemon socket (default: $XENSTORED_PATH or $XENSTORED_RUNDIR/socket)";
  const tool = (name: string): Command => xs.command(name).option("--socket <path>", SOCKET_HELP);
  tool("read")
    .description("print the values of keys")
    .argument("<key...>")
    .option("-p", "prefix each value with its path")
    .option("-R", "raw: print values unescaped, without newline")
    .action((keys: string[], o: { p?: boolean; R?: boolean }, cmd: Command) =>
      withClient(cmd, (c, io) => toolRead(c, keys, { prefix: o.p === true, raw: o.R === true }, io)),
    );
  tool("write")
    .description("write key/value pairs (values take \\ escapes)")
    .argument("<key-value...>")
    .option("-R", "raw: take values literally")
    .action(async (args: string[], o: { R?: boolean }, cmd: Command) => {
      if (args.length % 2 !== 0) throw new PvnetError("CONFIG", "write: expected key value pairs");
      await withClient(cmd, (c, io) => toolWrite(c, args, { raw: o.R === true }, io));
    });
  tool("ls")
    .description("print the tree below a path")
    .argument("[path]", "where to start", "/")
    .option("-p", "show permissions")
    .option("-f", "show whole paths")
    .action((path: string, o: { p?: boolean; f?: boolean }, cmd: Command) =>
      withClient(cmd, (c, io) => toolLs(c, path, { perms: o.p === true, full: o.f === true }, io)),
    );
  tool("list")
    .description("print the children of keys")
    .argument("<key...>")
    .option("-p", "print whole paths")
    .action((keys: string[], o: { p?: boolean }, cmd: Command) =>
      withClient(cmd, (c, io) => toolList(c, keys, { prefix: o.p === true }, io)),
    );
  tool("exists")
    .description("exit 0 if every key exists, 1 otherwise")
    .argument("<key...>")
    .action((keys: string[], _o: unknown, cmd: Command) => withClient(cmd, (c) => toolExists(c, keys)));
  tool("rm")
    .description("remove keys and their subtrees")
    .argument("<key...>")
    .action((keys: string[], _o: unknown, cmd: Command) => withClient(cmd, (c, io) => toolRm(c, keys, io)));
  tool("chmod")
    .description("set permissions: owner first, then n|r|w|b<domid> entries")
    .argument("<key>")
    .argument("[perm...]")
    .option("-r", "apply to the whole subtree")
    .action((key: string, perms: string[], o: { r?: boolean }, cmd: Command) =>
      withClient(cmd, (c, io) => toolChmod(c, key, perms, { recurse: o.r === true }, io)),
    );
  tool("watch")
    .description("print the path of every change at or below a key")
    .argument("<key>")
    .option("-n <count>", "stop after this many events (the initial one included)", countOpt)
    .action((key: string, o: { n?: number }, cmd: Command) =>
      withClient(cmd, (c, io) => toolWatch(c, key, o.n === undefined ? {} : { count: o.n }, io)),
    );
}
