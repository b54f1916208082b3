import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface SpawnedServer {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Every stdout line, parsed when it is JSON. */
  lines: string[];
  logs: Record<string, unknown>[];
  dataDir: string;
  /** Sends a signal and resolves with the exit code (or the signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Resolves when the process has exited. */
  exited: Promise<number | string>;
}

/**
 * Starts `server/main.ts` as its own process (through tsx), the way `npm start`
 * runs it, on PORT 0 unless given, and waits for its "listening" line.
 */
export async function spawnServer(env: Record<string, string> = {}, options: { timeoutMs?: number } = {}): Promise<SpawnedServer> {
  const dataDir = env["DATA_DIR"] ?? mkdtempSync(path.join(tmpdir(), "users-proc-"));
  const proc = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: root,
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "",
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      ADMIN_PASSWORD: "admin-test-password",
      BCRYPT_COST: "4",
      RATE_LIMIT_PER_MINUTE: "0",
      WEB_ROOT: path.join(dataDir, "no-web-root"),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  const exited = new Promise<number | string>((resolve) => proc.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const listening = new Promise<string>((resolve, reject) => {
    let buffer = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry["msg"] === "listening" && typeof entry["address"] === "string") resolve(entry["address"]);
        } catch {
          // Not JSON: a banner such as the first-start password notice.
        }
      }
    });
    proc.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${stderr}`)));
    setTimeout(() => reject(new Error(`server did not listen within ${options.timeoutMs ?? 30_000} ms:\n${stderr}`)), options.timeoutMs ?? 30_000).unref();
  });
  const address = await listening;
  const url = address.replace("0.0.0.0", "127.0.0.1");
  return {
    url,
    port: Number(new URL(url).port),
    proc,
    lines,
    logs,
    dataDir,
    exited,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
