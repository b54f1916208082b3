import pino, { type Logger } from "pino";

/** Paths that may hold secrets; pino replaces them before a line is written. */
export const redactPaths = [
  "password",
  "*.password",
  "*.*.password",
  "passwordHash",
  "*.passwordHash",
  "accessToken",
  "*.accessToken",
  "*.*.accessToken",
  "token",
  "*.token",
  "headers.authorization",
  "*.headers.authorization",
  "req.headers.authorization",
  "headers.cookie",
  "*.headers.cookie",
];

/**
 * The process logger: JSON lines, secrets redacted. Lines to stdout are written
 * asynchronously (one write per burst rather than a blocking write per line,
 * which cost several microseconds per RPC); pino flushes what is buffered when
 * the process exits.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: redactPaths, censor: "[redacted]" } }, destination ?? pino.destination({ dest: 1, sync: false }));
}
