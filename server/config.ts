import { z } from "zod";

/** One row of the settings table, so `--help` and the README are printed from the same source as the parser. */
export interface SettingDoc {
  name: string;
  meaning: string;
  fallback: string;
}

const bool = (fallback: boolean) =>
  z
    .enum(["1", "0", "true", "false", "yes", "no", "on", "off", ""])
    .optional()
    .transform((v) => (v === undefined || v === "" ? fallback : ["1", "true", "yes", "on"].includes(v)));

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      if (!/^-?\d+$/.test(v.trim())) {
        ctx.addIssue({ code: "custom", message: `must be a whole number, got "${v}"` });
        return z.NEVER;
      }
      return Number(v);
    })
    .pipe(z.number().int().min(min).max(max));

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const schema = z.object({
  NODE_ENV: z.string().optional().default("development"),
  PORT: int(50051, 0, 65535),
  HOST: z.string().optional().default("0.0.0.0"),
  DATA_DIR: z.string().optional().default("./data"),
  DATABASE_URL: optionalString.refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
    message: "must start with postgres:// or postgresql://",
  }),
  DATABASE_POOL_SIZE: int(10, 1, 200),
  REDIS_URL: optionalString.refine((v) => v === undefined || /^rediss?:\/\//.test(v), {
    message: "must start with redis:// or rediss://",
  }),
  REDIS_KEY_PREFIX: z
    .string()
    .optional()
    .default("users:")
    .refine((v) => /^[A-Za-z0-9:._-]{0,64}$/.test(v), { message: "must be at most 64 of A-Z a-z 0-9 : . _ -" }),
  ADMIN_PASSWORD: optionalString.refine((v) => v === undefined || (Buffer.byteLength(v) >= 8 && Buffer.byteLength(v) <= 72), {
    message: "must be 8 to 72 bytes",
  }),
  SEED_DEMO_DATA: bool(false),
  JWT_SECRET: optionalString.refine((v) => v === undefined || Buffer.byteLength(v) >= 32, {
    message: "must be at least 32 bytes",
  }),
  JWT_TTL_SECONDS: int(3600, 60, 30 * 24 * 3600),
  JWT_ISSUER: z.string().optional().default("polyglot-users"),
  JWT_AUDIENCE: z.string().optional().default("polyglot-users"),
  ALLOW_SIGNUP: bool(true),
  BCRYPT_COST: int(10, 4, 15),
  BCRYPT_THREADS: int(0, 0, 64),
  BCRYPT_NICE: int(10, 0, 19),
  RATE_LIMIT_PER_MINUTE: int(600, 0, 1_000_000),
  RATE_LIMIT_BURST: int(0, 0, 1_000_000),
  LOGIN_MAX_FAILURES: int(5, 1, 1000),
  LOGIN_WINDOW_SECONDS: int(900, 1, 86_400),
  TLS_CERT: optionalString,
  TLS_KEY: optionalString,
  TLS_CLIENT_CA: optionalString,
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).optional().default("info"),
  METRICS_PORT: int(0, 0, 65535),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 0, 600_000),
  HEALTH_CHECK_INTERVAL_MS: int(5_000, 100, 600_000),
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString,
  OTEL_SERVICE_NAME: z.string().optional().default("polyglot-users"),
  MAX_MESSAGE_BYTES: int(4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  MAX_TIMEOUT_MS: int(5 * 60_000, 0, 24 * 3600_000),
  CHAT_KEEPALIVE_MS: int(15_000, 100, 600_000),
  CHAT_QUEUE_LIMIT: int(1000, 1, 1_000_000),
  WEB_ROOT: optionalString,
  CORS_ORIGINS: z.string().optional().default("*"),
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((v): boolean | string => {
      const t = (v ?? "").trim();
      if (t === "" || t === "false") return false;
      return t === "true" ? true : t;
    }),
});

/** The typed, validated settings of one server process; read once at start. */
export interface Config {
  nodeEnv: string;
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  adminPassword: string | undefined;
  seedDemoData: boolean;
  jwtSecret: string | undefined;
  jwtTtlSeconds: number;
  jwtIssuer: string;
  jwtAudience: string;
  allowSignup: boolean;
  bcryptCost: number;
  bcryptThreads: number;
  /** How much nicer the hashing threads run than the event loop, so the event loop wins the CPU when both want it. */
  bcryptNice: number;
  rateLimitPerMinute: number;
  rateLimitBurst: number;
  loginMaxFailures: number;
  loginWindowSeconds: number;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  tlsClientCa: string | undefined;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  metricsPort: number;
  shutdownTimeoutMs: number;
  healthCheckIntervalMs: number;
  otelExporterOtlpEndpoint: string | undefined;
  otelServiceName: string;
  maxMessageBytes: number;
  maxTimeoutMs: number;
  chatKeepaliveMs: number;
  chatQueueLimit: number;
  webRoot: string | undefined;
  corsOrigins: string[] | "*";
  /** Fastify's trustProxy: which peers' X-Forwarded-For gives the client address. */
  trustProxy: boolean | string;
}

/** Every setting with its meaning and default, in README order. */
export const settingDocs: SettingDoc[] = [
  { name: "PORT", meaning: "the one port for every protocol", fallback: "50051" },
  { name: "HOST", meaning: "bind address", fallback: "0.0.0.0" },
  { name: "DATA_DIR", meaning: "folder for the embedded SQLite database", fallback: "./data" },
  { name: "DATABASE_URL", meaning: "postgres://… selects PostgreSQL", fallback: "unset: SQLite in DATA_DIR" },
  { name: "DATABASE_POOL_SIZE", meaning: "PostgreSQL connections per process", fallback: "10" },
  { name: "REDIS_URL", meaning: "Redis for cross-instance chat, rate limits, login throttle and cache invalidation", fallback: "unset: in-process" },
  { name: "REDIS_KEY_PREFIX", meaning: "prefix of every Redis key and channel, so deployments can share one Redis", fallback: "users:" },
  { name: "ADMIN_PASSWORD", meaning: "password of the admin account created on first start", fallback: "random, printed once" },
  { name: "SEED_DEMO_DATA", meaning: "1 adds the seed's demo users", fallback: "off" },
  { name: "JWT_SECRET", meaning: "token signing secret, at least 32 bytes", fallback: "random per process (refused when NODE_ENV=production)" },
  { name: "JWT_TTL_SECONDS", meaning: "access token lifetime", fallback: "3600" },
  { name: "JWT_ISSUER", meaning: "iss claim written and required", fallback: "polyglot-users" },
  { name: "JWT_AUDIENCE", meaning: "aud claim written and required", fallback: "polyglot-users" },
  { name: "ALLOW_SIGNUP", meaning: "anonymous CreateUser as sign-up", fallback: "true" },
  { name: "BCRYPT_COST", meaning: "bcrypt work factor", fallback: "10" },
  { name: "BCRYPT_THREADS", meaning: "password hashing worker threads; 0 means one per core", fallback: "0" },
  { name: "BCRYPT_NICE", meaning: "how much nicer (0-19) the hashing threads run than the event loop, so calls are not queued behind hashing for CPU", fallback: "10" },
  { name: "RATE_LIMIT_PER_MINUTE", meaning: "calls per principal (or client address) per minute; 0 turns the limiter off", fallback: "600" },
  { name: "RATE_LIMIT_BURST", meaning: "extra calls allowed in a burst above the per-minute rate; 0 means a tenth of the rate", fallback: "0" },
  { name: "LOGIN_MAX_FAILURES", meaning: "failed logins allowed per account and per address in the window", fallback: "5" },
  { name: "LOGIN_WINDOW_SECONDS", meaning: "the login throttle window", fallback: "900" },
  { name: "TLS_CERT", meaning: "PEM certificate file; with TLS_KEY turns on TLS (h2 and http/1.1 by ALPN)", fallback: "unset: cleartext" },
  { name: "TLS_KEY", meaning: "PEM private key file", fallback: "unset" },
  { name: "TLS_CLIENT_CA", meaning: "PEM CA file; requires and verifies client certificates (mutual TLS)", fallback: "unset" },
  { name: "LOG_LEVEL", meaning: "pino level", fallback: "info" },
  { name: "METRICS_PORT", meaning: "serve /metrics on its own port", fallback: "unset: same port" },
  { name: "SHUTDOWN_TIMEOUT_MS", meaning: "how long a SIGTERM waits for streams", fallback: "10000" },
  { name: "HEALTH_CHECK_INTERVAL_MS", meaning: "how often storage and the chat broker are checked for grpc.health.v1 and /readyz", fallback: "5000" },
  { name: "OTEL_EXPORTER_OTLP_ENDPOINT", meaning: "turns on trace export (OTLP over HTTP)", fallback: "unset: off" },
  { name: "OTEL_SERVICE_NAME", meaning: "service.name of exported spans", fallback: "polyglot-users" },
  { name: "MAX_MESSAGE_BYTES", meaning: "largest request message accepted", fallback: "4194304 (4 MiB)" },
  { name: "MAX_TIMEOUT_MS", meaning: "cap on the deadline a client may ask for; a longer one is refused with INVALID_ARGUMENT; 0 means no cap", fallback: "300000" },
  { name: "CHAT_KEEPALIVE_MS", meaning: "keep-alive interval on SubscribeChat streams", fallback: "15000" },
  { name: "CHAT_QUEUE_LIMIT", meaning: "messages buffered per chat subscriber before it is cut off", fallback: "1000" },
  { name: "WEB_ROOT", meaning: "folder of the built browser client served at /", fallback: "web-client/dist" },
  { name: "CORS_ORIGINS", meaning: "comma-separated origins allowed to call from browsers, or *", fallback: "*" },
  {
    name: "TRUST_PROXY",
    meaning: "load balancers whose X-Forwarded-For names the client (for rate limits, login throttle, logs): comma-separated addresses/CIDRs, or true for any peer",
    fallback: "unset: the TCP peer is the client",
  },
];

/** A bad setting, reported with the variable's name so an operator can fix it. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Reads and validates the environment once; throws ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.NODE_ENV === "production" && e.JWT_SECRET === undefined) {
    problems.push("JWT_SECRET: required when NODE_ENV=production (at least 32 bytes); tokens would not survive a restart or work across replicas");
  }
  if ((e.TLS_CERT === undefined) !== (e.TLS_KEY === undefined)) {
    problems.push("TLS_CERT and TLS_KEY: set both or neither");
  }
  if (e.TLS_CLIENT_CA !== undefined && e.TLS_CERT === undefined) {
    problems.push("TLS_CLIENT_CA: needs TLS_CERT and TLS_KEY");
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    adminPassword: e.ADMIN_PASSWORD,
    seedDemoData: e.SEED_DEMO_DATA,
    jwtSecret: e.JWT_SECRET,
    jwtTtlSeconds: e.JWT_TTL_SECONDS,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    allowSignup: e.ALLOW_SIGNUP,
    bcryptCost: e.BCRYPT_COST,
    bcryptThreads: e.BCRYPT_THREADS,
    bcryptNice: e.BCRYPT_NICE,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    rateLimitBurst: e.RATE_LIMIT_BURST,
    loginMaxFailures: e.LOGIN_MAX_FAILURES,
    loginWindowSeconds: e.LOGIN_WINDOW_SECONDS,
    tlsCert: e.TLS_CERT,
    tlsKey: e.TLS_KEY,
    tlsClientCa: e.TLS_CLIENT_CA,
    logLevel: e.LOG_LEVEL,
    metricsPort: e.METRICS_PORT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    healthCheckIntervalMs: e.HEALTH_CHECK_INTERVAL_MS,
    otelExporterOtlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT,
    otelServiceName: e.OTEL_SERVICE_NAME,
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    maxTimeoutMs: e.MAX_TIMEOUT_MS,
    chatKeepaliveMs: e.CHAT_KEEPALIVE_MS,
    chatQueueLimit: e.CHAT_QUEUE_LIMIT,
    webRoot: e.WEB_ROOT,
    corsOrigins: e.CORS_ORIGINS.trim() === "*" ? "*" : e.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean),
    trustProxy: e.TRUST_PROXY,
  };
}

/** The `--help` text: every setting, its meaning and default. */
export function helpText(): string {
  const width = Math.max(...settingDocs.map((d) => d.name.length));
  const rows = settingDocs.map((d) => `  ${d.name.padEnd(width)}  ${d.meaning} (default: ${d.fallback})`);
  return [
    "polyglot-users: a user service answering gRPC, gRPC-Web and Connect on one port.",
    "",
    "Usage: npm start            (or: node dist/server/main.js)",
    "",
    "Settings come from the environment, or a .env file in the working directory:",
    ...rows,
    "",
  ].join("\n");
}
