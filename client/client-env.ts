import { parseProtocol, type Protocol } from "./protocol.js";

/** The client's settings from the environment, read once; CLI flags override them. */
export interface ClientEnv {
  /** One or more server base URLs (USERS_URL, comma-separated for load balancing). */
  urls: string[];
  token: string | undefined;
  username: string | undefined;
  password: string | undefined;
  protocol: Protocol;
  debug: boolean;
  /** Default deadline per call; undefined keeps the SDK default. */
  timeoutMs: number | undefined;
}

/** Every variable the SDK and CLI read, for --help and the README. */
export const clientEnvDocs: readonly { name: string; meaning: string; fallback: string }[] = [
  { name: "USERS_URL", meaning: "server base URL; several comma-separated URLs are load-balanced", fallback: "http://localhost:50051" },
  { name: "USERS_TOKEN", meaning: "a bearer token to use as is", fallback: "unset" },
  { name: "USERS_USERNAME", meaning: "username (or email) the CLI logs in with when no token is given", fallback: "unset" },
  { name: "USERS_PASSWORD", meaning: "password for USERS_USERNAME", fallback: "unset" },
  { name: "USERS_PROTOCOL", meaning: "grpc, connect or grpc-web", fallback: "grpc" },
  { name: "USERS_TIMEOUT_MS", meaning: "default deadline per call in milliseconds", fallback: "10000" },
  { name: "USERS_DEBUG", meaning: "1 logs every call to stderr with secrets redacted", fallback: "off" },
];

const nonEmpty = (value: string | undefined) => (value === undefined || value.trim() === "" ? undefined : value);

/** Parses the USERS_* variables; a malformed value throws a RangeError naming the variable. */
export function readClientEnv(env: Readonly<Record<string, string | undefined>>): ClientEnv {
  const urls = (nonEmpty(env["USERS_URL"]) ?? "http://localhost:50051")
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  let protocol: Protocol = "grpc";
  const rawProtocol = nonEmpty(env["USERS_PROTOCOL"]);
  if (rawProtocol !== undefined) {
    try {
      protocol = parseProtocol(rawProtocol);
    } catch (error) {
      throw new RangeError(`USERS_PROTOCOL: ${(error as Error).message}`);
    }
  }
  const rawTimeout = nonEmpty(env["USERS_TIMEOUT_MS"]);
  if (rawTimeout !== undefined && !/^\d+$/.test(rawTimeout.trim())) throw new RangeError(`USERS_TIMEOUT_MS must be a whole number of milliseconds, got "${rawTimeout}"`);
  const debug = (env["USERS_DEBUG"] ?? "").trim().toLowerCase();
  return {
    urls,
    token: nonEmpty(env["USERS_TOKEN"]),
    username: nonEmpty(env["USERS_USERNAME"]),
    password: env["USERS_PASSWORD"] === "" ? undefined : env["USERS_PASSWORD"],
    protocol,
    debug: ["1", "true", "yes", "on"].includes(debug),
    timeoutMs: rawTimeout === undefined ? undefined : Number(rawTimeout),
  };
}
