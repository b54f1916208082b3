#!/usr/bin/env node
/** The `users` command: see `users --help`; exit codes are in cli/exit-codes.ts. */
import { runCli } from "./cli/program.js";

const handlers = new Set<() => void>();
process.on("SIGINT", () => {
  if (handlers.size === 0) process.exit(130);
  for (const handler of [...handlers]) handler();
});

const code = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onInterrupt(handler) {
    handlers.add(handler);
    return () => handlers.delete(handler);
  },
});
process.exitCode = code;
