import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig, settingDocs } from "../server/config.js";

// Docker cannot run here, so this checks what can be checked without it: the
// compose file parses, its settings are ones the server knows and accepts,
// and the balancer's config points at the replicas the compose file defines.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  deploy?: { replicas?: number };
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  networks?: Record<string, { ipv4_address?: string }>;
}
interface Compose {
  services: Record<string, Service>;
  networks?: Record<string, { ipam?: { config?: Array<{ subnet: string }> } }>;
}

const compose = parse(read("docker-compose.yml")) as Compose;
const nginx = read("deploy/nginx.conf");
const users = compose.services["users"]!;
const lb = compose.services["lb"]!;

/** Compose's ${VAR}, ${VAR:?message} and ${VAR:-default}, filled from vars; a missing required one throws. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::([?-])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const v = vars[name];
    if (v !== undefined && v !== "") return v;
    if (op === "?") throw new Error(`${name} is required: ${arg}`);
    return op === "-" ? (arg ?? "") : "";
  });
}

const secrets = { POSTGRES_PASSWORD: "pg-secret", JWT_SECRET: "x".repeat(48), ADMIN_PASSWORD: "admin-secret-1" };
const usersEnv = Object.fromEntries(Object.entries(users.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), secrets)]));

/** ipv4 "a.b.c.d" inside "a.b.c.0/len". */
function inSubnet(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/") as [string, string];
  const toInt = (a: string) => a.split(".").reduce((n, part) => n * 256 + Number(part), 0);
  const mask = 2 ** 32 - 2 ** (32 - Number(bits));
  return (toInt(ip) & mask) >>> 0 === (toInt(base) & mask) >>> 0;
}

describe("docker-compose.yml", () => {
  it("runs several replicas of the server beside PostgreSQL, Redis and a load balancer", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["lb", "postgres", "redis", "users"]);
    expect(users.deploy?.replicas).toBeGreaterThanOrEqual(2);
    // Replicas publish no host port (they could not all bind it); only the balancer does.
    expect(users.ports).toBeUndefined();
    expect(users.expose).toEqual([usersEnv["PORT"]]);
    expect(existsSync(path.join(root, users.build!.context, users.build!.dockerfile ?? "Dockerfile"))).toBe(true);
    expect(users.depends_on).toEqual({ postgres: { condition: "service_healthy" }, redis: { condition: "service_healthy" } });
    expect(lb.depends_on).toEqual({ users: { condition: "service_healthy" } });
  });

  it("gives the replicas only settings the server knows, and the server accepts them", () => {
    const known = new Set([...settingDocs.map((d) => d.name), "NODE_ENV"]);
    expect(Object.keys(usersEnv).filter((name) => !known.has(name))).toEqual([]);
    const config = loadConfig(usersEnv);
    expect(config.nodeEnv).toBe("production");
    expect(new URL(config.databaseUrl!).hostname).toBe("postgres");
    expect(new URL(config.databaseUrl!).password).toBe("pg-secret");
    expect(new URL(config.redisUrl!).hostname).toBe("redis");
    expect(config.jwtSecret).toBe(secrets.JWT_SECRET);
    // Every replica must sign and verify tokens with the same secret.
    expect(config.redisKeyPrefix).toBe("users:");
  });

  it("holds no secret itself: passwords and the JWT secret must come from the environment", () => {
    for (const name of Object.keys(secrets)) {
      expect(() => interpolate(read("docker-compose.yml"), { ...secrets, [name]: "" })).toThrow(`${name} is required`);
    }
    expect(compose.services["postgres"]!.environment?.["POSTGRES_PASSWORD"]).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
  });

  it("checks readiness where the server serves it and lets streams drain before stopping", () => {
    // The image's probe asks /readyz on PORT, which the replicas set.
    expect(users.healthcheck?.test).toEqual(["CMD", "node", "dist/server/health/readiness-probe.js"]);
    expect(existsSync(path.join(root, "server/health/readiness-probe.ts"))).toBe(true);
    expect(read("server/health/readiness-probe.ts")).toContain('path: "/readyz"');
    expect(read("server/app.ts")).toContain('fastify.get("/readyz"');
    const graceSeconds = Number(/^(\d+)s$/.exec(users.stop_grace_period ?? "")?.[1]);
    expect(graceSeconds * 1000).toBeGreaterThan(Number(usersEnv["SHUTDOWN_TIMEOUT_MS"]));
  });

  it("trusts X-Forwarded-For from the balancer's fixed address only", () => {
    const address = lb.networks?.["default"]?.ipv4_address;
    expect(address).toBeDefined();
    expect(usersEnv["TRUST_PROXY"]).toBe(address);
    const subnet = compose.networks?.["default"]?.ipam?.config?.[0]?.subnet;
    expect(inSubnet(address!, subnet!)).toBe(true);
  });
});

describe("deploy/nginx.conf", () => {
  const upstreams = new Map<string, string[]>();
  for (const m of nginx.matchAll(/upstream\s+(\w+)\s*\{([^}]*)\}/g)) {
    upstreams.set(m[1]!, [...m[2]!.matchAll(/^\s*server\s+(\S+)/gm)].map((s) => s[1]!));
  }

  it("is the file the balancer mounts, with balanced braces", () => {
    expect(lb.volumes).toContain("./deploy/nginx.conf:/etc/nginx/nginx.conf:ro");
    const withoutStrings = nginx.replace(/"[^"]*"/g, '""').replace(/#.*$/gm, "");
    expect((withoutStrings.match(/\{/g) ?? []).length).toBe((withoutStrings.match(/\}/g) ?? []).length);
  });

  it("balances over the compose service's replicas on the port they listen on", () => {
    expect([...upstreams.keys()].sort()).toEqual(["users_grpc", "users_http"]);
    for (const servers of upstreams.values()) expect(servers).toEqual([`users:${usersEnv["PORT"]}`]);
  });

  it("listens with HTTP/2 for gRPC and HTTP/1.1 for browsers on exactly the ports compose publishes", () => {
    const listens = [...nginx.matchAll(/^\s*listen\s+(\d+)([^;]*);/gm)].map((m) => ({ port: m[1]!, http2: m[2]!.includes("http2") }));
    expect(listens).toEqual([
      { port: "8080", http2: true },
      { port: "8081", http2: false },
    ]);
    expect(lb.ports).toEqual(listens.map((l) => `${l.port}:${l.port}`));
  });

  it("sends native gRPC through grpc_pass and everything else through proxy_pass, to defined upstreams", () => {
    const grpcPass = [...nginx.matchAll(/grpc_pass\s+grpc:\/\/(\w+);/g)].map((m) => m[1]);
    const proxyPass = [...nginx.matchAll(/proxy_pass\s+http:\/\/(\w+);/g)].map((m) => m[1]);
    expect(grpcPass).toEqual(["users_grpc"]);
    expect(proxyPass).toEqual(["users_http"]);
    // Server streams over HTTP/1.1 must not be buffered by the balancer.
    expect(nginx).toMatch(/proxy_buffering off;/);
  });

  it("classifies content types the way the server's protocols need", () => {
    const pattern = /"~(\^application\/grpc[^"]*)"\s+1;/.exec(nginx)?.[1];
    expect(pattern).toBeDefined();
    const isGrpc = new RegExp(pattern!);
    const native = ["application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc;charset=utf-8"];
    const plain = ["application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text", "application/connect+proto", "application/json", "application/proto", ""];
    expect(native.filter((t) => !isGrpc.test(t))).toEqual([]);
    expect(plain.filter((t) => isGrpc.test(t))).toEqual([]);
  });
});

describe("Dockerfile", () => {
  it("starts the server with exactly the command and runtime flags of npm start", () => {
    const start = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts["start"]!;
    const cmd = /^CMD (\[.*\])$/m.exec(read("Dockerfile"))?.[1];
    expect(cmd).toBeDefined();
    expect((JSON.parse(cmd!) as string[]).join(" ")).toBe(start);
    expect(start).toMatch(/^node --max-semi-space-size=\d+ dist\/server\/main\.js$/);
  });
});
