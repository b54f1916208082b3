/**
 * Reads the settings every baseline shares (port, user count, secret) from
 * env or argv, so the orchestrator can start them all the same way.
 */
import { parseArgs } from "node:util";
import { DEFAULT_USER_COUNT } from "../lib/seed-data.js";

export interface BaselineEnv {
  port: number;
  host: string;
  users: number;
  jwtSecret: string;
  bcryptCost: number;
  seedPassword: string;
}

/** Parses `--port`/`--users` (argv wins) and PORT, HOST, BENCH_USERS, JWT_SECRET, BCRYPT_COST, BENCH_SEED_PASSWORD. */
export function readBaselineEnv(name: string): BaselineEnv {
  const { values } = parseArgs({
    options: { port: { type: "string" }, users: { type: "string" }, host: { type: "string" } },
    strict: false,
  });
  const jwtSecret = process.env.JWT_SECRET ?? "";
  if (jwtSecret.length < 16) {
    console.error(`${name}: JWT_SECRET (at least 16 characters) is required`);
    process.exit(2);
  }
  return {
    port: Number(values.port ?? process.env.PORT ?? 0),
    host: String(values.host ?? process.env.HOST ?? "127.0.0.1"),
    users: Number(values.users ?? process.env.BENCH_USERS ?? DEFAULT_USER_COUNT),
    jwtSecret,
    bcryptCost: Number(process.env.BCRYPT_COST ?? 10),
    seedPassword: process.env.BENCH_SEED_PASSWORD ?? "",
  };
}

/** The line the orchestrator waits for; keep the format in sync with READY_LINE. */
export function announceReady(name: string, port: number, extra = ""): void {
  process.stdout.write(`READY ${name} port=${port}${extra ? " " + extra : ""}\n`);
}

/** Matches announceReady's output and captures the port. */
export const READY_LINE = /^READY \S+ port=(\d+)/m;

/** Exits on SIGTERM/SIGINT after running the closer (or after one second if it hangs on open connections). */
export function exitOnSignal(close: () => Promise<unknown> | void): void {
  const stop = () => {
    setTimeout(() => process.exit(0), 1000).unref();
    Promise.resolve(close()).finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
