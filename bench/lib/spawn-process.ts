/**
 * Starts a server as a child process and waits until it is usable (a ready
 * line on stdout or an accepted TCP connection), keeping its output for errors.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface SpawnOptions {
  name: string;
  command: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve when stdout matches this; group 1, if any, is taken as the port. */
  readyLine?: RegExp;
  /** Or resolve once this port accepts a TCP connection. */
  tcpPort?: number;
  timeoutMs?: number;
  /** Copy the child's output to this file as well. */
  logFile?: string;
}

export interface SpawnedProcess {
  name: string;
  pid: number;
  /** The port from the ready line, or tcpPort. */
  port: number;
  /** The last lines the child printed (for error messages). */
  tail(): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every child still running when the orchestrator goes away. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const child of live) child.kill("SIGKILL");
  };
  process.once("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** Tries one TCP connect to 127.0.0.1:port. */
export function canConnect(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Spawns the command and waits for readiness; rejects with the output tail if it exits or times out first. */
export async function spawnServer(opts: SpawnOptions): Promise<SpawnedProcess> {
  installExitHook();
  const [cmd, ...args] = opts.command;
  if (!cmd) throw new Error(`${opts.name}: empty command`);
  const child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const lines: string[] = [];
  const log: WriteStream | undefined = opts.logFile ? createWriteStream(opts.logFile) : undefined;
  let readyPort: number | undefined;
  let exited: string | undefined;
  let stdoutSeen = "";

  const onOutput = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    log?.write(text);
    for (const line of text.split("\n")) if (line.trim()) lines.push(line);
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout!.on("data", (chunk: Buffer) => {
    onOutput(chunk);
    if (opts.readyLine && readyPort === undefined) {
      stdoutSeen = (stdoutSeen + chunk.toString("utf8")).slice(-4096);
      const match = opts.readyLine.exec(stdoutSeen);
      if (match) readyPort = Number(match[1] ?? opts.tcpPort ?? 0);
    }
  });
  child.stderr!.on("data", onOutput);
  child.once("exit", (code, signal) => {
    live.delete(child);
    exited = `exited with ${signal ?? code}`;
    log?.end();
  });
  child.once("error", (err) => {
    exited = `failed to start: ${err.message}`;
  });

  const tail = () => lines.slice(-20).join("\n");
  const stop = async () => {
    if (exited) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`${opts.name} ${exited} before it was ready:\n${tail()}`);
    if (readyPort !== undefined) break;
    if (!opts.readyLine && opts.tcpPort && (await canConnect(opts.tcpPort))) {
      readyPort = opts.tcpPort;
      break;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.name} was not ready within ${opts.timeoutMs ?? 30_000} ms:\n${tail()}`);
    }
    await sleep(50);
  }
  return { name: opts.name, pid: child.pid ?? -1, port: readyPort, tail, stop };
}
