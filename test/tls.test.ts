/**
 * TLS on the one port: certificates made here with the openssl CLI, ALPN for
 * h2 and http/1.1, every protocol over TLS, and mutual TLS that turns away
 * clients without a certificate from the configured CA.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { toBinary, create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService, LoginRequestSchema } from "../gen/user/auth_pb.js";
import { UserService } from "../gen/user/user_pb.js";
import { loadConfig } from "../server/config.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";
import { failure } from "./support/rpc-expect.js";

interface Pem {
  cert: string;
  key: string;
}

const dir = mkdtempSync(path.join(tmpdir(), "users-tls-"));
const file = (name: string) => path.join(dir, name);

function openssl(...args: string[]): void {
  try {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT") throw new Error("the openssl CLI is needed to make the test certificates; install openssl");
    throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

/** A self-signed CA. */
function makeCa(name: string): Pem {
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", `/CN=${name}`, "-keyout", file(`${name}.key`), "-out", file(`${name}.crt`));
  return { cert: readFileSync(file(`${name}.crt`), "utf8"), key: readFileSync(file(`${name}.key`), "utf8") };
}

/** A leaf certificate signed by a CA, for a server (with names) or a client. */
function makeLeaf(name: string, ca: string, extensions: string): Pem {
  openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${name}`, "-keyout", file(`${name}.key`), "-out", file(`${name}.csr`));
  writeFileSync(file(`${name}.ext`), extensions);
  openssl("x509", "-req", "-in", file(`${name}.csr`), "-CA", file(`${ca}.crt`), "-CAkey", file(`${ca}.key`), "-set_serial", String(Date.now()), "-days", "2", "-extfile", file(`${name}.ext`), "-out", file(`${name}.crt`));
  return { cert: readFileSync(file(`${name}.crt`), "utf8"), key: readFileSync(file(`${name}.key`), "utf8") };
}

let serverCa: Pem;
let clientCa: Pem;
let client: Pem;
let stranger: Pem;

beforeAll(() => {
  serverCa = makeCa("server-ca");
  makeLeaf("server", "server-ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  clientCa = makeCa("client-ca");
  client = makeLeaf("client", "client-ca", "extendedKeyUsage=clientAuth\n");
  // A client certificate from a CA the server does not trust.
  makeCa("rogue-ca");
  stranger = makeLeaf("stranger", "rogue-ca", "extendedKeyUsage=clientAuth\n");
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The protocol a TLS client ends up speaking after ALPN, or the error that ended the handshake. */
function negotiate(port: number, alpn: string[], identity?: Pem): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: serverCa.cert, ALPNProtocols: alpn, ...(identity ?? {}) }, () => {
      const protocol = String(socket.alpnProtocol);
      // With TLS 1.3 the server judges the client's certificate after the client thinks the handshake is done,
      // so send a first request and see whether an answer or an alert comes back.
      socket.write(protocol === "h2" ? "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00" : "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      socket.once("data", () => {
        socket.destroy();
        resolve(protocol);
      });
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? error.message}`));
    socket.on("close", () => resolve("closed"));
  });
}

type Identity = Pem | undefined;

function transports(url: string, identity: Identity) {
  const h2 = { ca: serverCa.cert, ...(identity ?? {}) };
  return {
    grpc: createGrpcTransport({ baseUrl: url, nodeOptions: h2 }),
    "grpc-web": createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { ...h2, agent: false } }),
    connect: createConnectTransport({ baseUrl: url, httpVersion: "1.1", nodeOptions: { ...h2, agent: false } }),
    "connect over h2": createConnectTransport({ baseUrl: url, httpVersion: "2", nodeOptions: h2 }),
  };
}

describe("TLS (TLS_CERT, TLS_KEY)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { TLS_CERT: file("server.crt"), TLS_KEY: file("server.key") } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves https and offers h2 and http/1.1 by ALPN", async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await negotiate(server.port, ["h2", "http/1.1"])).toBe("h2");
    expect(await negotiate(server.port, ["http/1.1"])).toBe("http/1.1");
  });

  it("answers gRPC, gRPC-Web and Connect over TLS", async () => {
    for (const [name, transport] of Object.entries(transports(server.url, undefined))) {
      const login = await createClient(AuthService, transport).login({ username: "admin", password: TEST_ADMIN_PASSWORD });
      expect([name, login.user?.username]).toEqual([name, "admin"]);
    }
  });

  it("answers @grpc/grpc-js with TLS credentials", async () => {
    const c = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(Buffer.from(serverCa.cert)));
    try {
      const status = await new Promise<number>((resolve) => {
        c.makeUnaryRequest(
          "/user.AuthService/Login",
          (m: Uint8Array) => Buffer.from(m),
          (b: Buffer) => b,
          toBinary(LoginRequestSchema, create(LoginRequestSchema, { username: "admin", password: "wrong-password" })),
          new grpc.Metadata(),
          (err) => resolve(err?.code ?? grpc.status.OK),
        );
      });
      expect(status).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      c.close();
    }
  });

  it("does not speak cleartext on the TLS port", async () => {
    await expect(fetch(server.url.replace("https:", "http:") + "/healthz")).rejects.toThrow();
    const grpcPlain = await failure(createClient(AuthService, createGrpcTransport({ baseUrl: server.url.replace("https:", "http:") })).login({ username: "admin", password: TEST_ADMIN_PASSWORD }));
    expect(grpcPlain.code).not.toBe(Code.Unauthenticated);
  });

  it("is refused by a client that does not trust the server's CA", async () => {
    const untrusting = createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", nodeOptions: { agent: false } });
    const error = await failure(createClient(AuthService, untrusting).login({ username: "admin", password: TEST_ADMIN_PASSWORD }));
    expect(String(error.cause ?? error.message)).toMatch(/certificate/i);
  });
});

describe("mutual TLS (TLS_CLIENT_CA)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { TLS_CERT: file("server.crt"), TLS_KEY: file("server.key"), TLS_CLIENT_CA: file("client-ca.crt") } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves a client with a certificate from the client CA, over every protocol", async () => {
    expect(await negotiate(server.port, ["h2"], client)).toBe("h2");
    for (const [name, transport] of Object.entries(transports(server.url, client))) {
      const login = await createClient(AuthService, transport).login({ username: "admin", password: TEST_ADMIN_PASSWORD });
      expect([name, login.user?.username]).toEqual([name, "admin"]);
    }
  });

  it.each([
    ["no certificate", undefined],
    ["a certificate from another CA", "stranger"],
  ] as const)("turns away a client with %s at the handshake, over every protocol, and nothing is created", async (_case, who) => {
    const identity = who === undefined ? undefined : stranger;
    const handshake = await negotiate(server.port, ["h2", "http/1.1"], identity);
    // No answer to the first request: an alert (no certificate) or a closed connection (an untrusted one).
    expect(handshake).toMatch(/^(error ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|closed)$/);
    for (const [name, transport] of Object.entries(transports(server.url, identity))) {
      const username = `mtls_${name.replace(/\W+/g, "_")}_${who ?? "none"}`;
      const error = await failure(createClient(UserService, transport).createUser({ username, email: `${username}@example.com`, password: "password123" }));
      expect([name, error.code]).not.toEqual([name, Code.Unauthenticated]);
      expect(String(error.cause ?? error.message)).toMatch(/certificate|socket hang up|ECONNRESET|closed|alert/i);
      expect(await server.app.storage.users.findByLogin(username)).toBeUndefined();
    }
    // An independent client without a certificate fails the same way.
    const c = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createSsl(Buffer.from(serverCa.cert)));
    try {
      const code = await new Promise<number>((resolve) => {
        c.makeUnaryRequest(
          "/user.AuthService/Login",
          (m: Uint8Array) => Buffer.from(m),
          (b: Buffer) => b,
          toBinary(LoginRequestSchema, create(LoginRequestSchema, { username: "admin", password: TEST_ADMIN_PASSWORD })),
          new grpc.Metadata(),
          { deadline: Date.now() + 3000 },
          (err) => resolve(err?.code ?? grpc.status.OK),
        );
      });
      expect(code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      c.close();
    }
  });

  it("refuses TLS_CLIENT_CA without a server certificate, and half a key pair, at start", () => {
    expect(() => loadConfig({ TLS_CLIENT_CA: file("client-ca.crt") })).toThrow(/TLS_CLIENT_CA: needs TLS_CERT and TLS_KEY/);
    expect(() => loadConfig({ TLS_CERT: file("server.crt") })).toThrow(/TLS_CERT and TLS_KEY: set both or neither/);
  });
});
