/**
 * The `users` CLI as operators and scripts run it: a real subprocess against
 * a real server, judged by exit code, stdout and stderr.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUserClient, type UserClient } from "../client/user-client.js";
import { freePort } from "./support/free-port.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "./support/test-server.js";

/** Each CLI run starts Node and tsx; on a busy machine a test of several runs needs this long. */
const SLOW = 120_000;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const work = mkdtempSync(path.join(tmpdir(), "users-cli-"));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `users <args>` from source the way the bin entry runs the built file. */
function users(args: string[], options: { env?: Record<string, string>; input?: string; command?: (argv: string[]) => string[] } = {}): Promise<Run> {
  const argv = [process.execPath, "--import", "tsx", path.join(root, "client/cli.ts"), ...args];
  const [file, ...rest] = options.command?.(argv) ?? argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file as string, rest, {
      cwd: root,
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

let server: TestServer;
let admin: UserClient;
let token: string;
let asAdmin: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer();
  admin = createUserClient({ baseUrl: server.url });
  token = (await admin.login("admin", TEST_ADMIN_PASSWORD)).accessToken;
  asAdmin = { USERS_URL: server.url, USERS_TOKEN: token };
});
afterAll(async () => {
  admin?.close();
  await server?.close();
});

describe("usage", () => {
  it("--help lists commands, environment and exit codes, and exits 0", async () => {
    const run = await users(["--help"]);
    expect(run.code).toBe(0);
    for (const word of ["login", "import", "chat", "health", "USERS_URL", "USERS_PROTOCOL", "Exit codes:"]) expect(run.stdout).toContain(word);
  }, SLOW);

  it.each([
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["get"], /missing required argument 'id'/],
    [["get", "abc"], /user id must be a positive whole number, got "abc"/],
    [["list", "--colour"], /unknown option '--colour'/],
    [["update", "5"], /update needs at least one change/],
    [["import", "users.txt"], /cannot tell the format of "users.txt"/],
    [["--protocol", "carrier-pigeon", "whoami"], /unknown protocol "carrier-pigeon"/],
  ])("%j is a usage error: exit 2 and a message on stderr", async (args, message) => {
    const run = await users(args, { env: asAdmin });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stdout).toBe("");
  }, SLOW);
});

describe("commands", () => {
  it("login prints only the token; a wrong password exits 1 with the code name", async () => {
    const ok = await users(["login", "--password-stdin"], { env: { USERS_URL: server.url, USERS_USERNAME: "admin" }, input: `${TEST_ADMIN_PASSWORD}\n` });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const me = await users(["whoami"], { env: { USERS_URL: server.url, USERS_TOKEN: ok.stdout.trim() } });
    expect(JSON.parse(me.stdout)).toMatchObject({ username: "admin" });

    const bad = await users(["login"], { env: { USERS_URL: server.url, USERS_USERNAME: "admin", USERS_PASSWORD: "wrong-password" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr.split("\n")[0]).toMatch(/^error: UNAUTHENTICATED: /);
    expect(bad.stdout).toBe("");
  }, SLOW);

  it("create, get, update, list and delete, logging in from USERS_USERNAME/USERS_PASSWORD", async () => {
    const env = { USERS_URL: server.url, USERS_USERNAME: "admin", USERS_PASSWORD: TEST_ADMIN_PASSWORD };
    const name = "cli_crud";
    const created = await users(["create", "--username", name, "--email", `${name}@example.com`, "--full-name", "Cli One", "--meta", "team=ops", "--password-stdin"], {
      env,
      input: "s3cret-pass\n",
    });
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const user = JSON.parse(created.stdout) as { id: string; username: string; metadata: Record<string, string> };
    expect(user).toMatchObject({ username: name, metadata: { team: "ops" } });

    const got = await users(["get", user.id, "-o", "table"], { env });
    expect(got.code).toBe(0);
    expect(got.stdout.split("\n")[0]).toMatch(/^ID\s+USERNAME\s+EMAIL\s+FULL NAME\s+STATUS\s+ROLES\s+CREATED$/);
    expect(got.stdout.split("\n")[1]).toMatch(new RegExp(`^${user.id}\\s+${name}\\s+${name}@example.com\\s+Cli One\\s+active\\s+user\\s+\\d{4}-`));

    const updated = await users(["update", user.id, "--full-name", "Cli Two", "--status", "suspended"], { env });
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ fullName: "Cli Two", status: "USER_STATUS_SUSPENDED" });

    const listed = await users(["list", "--search", name, "-o", "json"], { env });
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { username: string }).username)).toEqual([name]);

    const deleted = await users(["delete", user.id, "--hard"], { env });
    expect([deleted.code, deleted.stdout]).toEqual([0, `removed user ${user.id}\n`]);
    const gone = await users(["get", user.id], { env });
    expect(gone.code).toBe(1);
    expect(gone.stderr.split("\n")[0]).toBe(`error: NOT_FOUND: user ${user.id} not found`);
  }, SLOW);

  it.each(["connect", "grpc-web", "grpc"])("USERS_PROTOCOL=%s is used for the calls", async (protocol) => {
    const before = server.logs.filter((l) => l["msg"] === "rpc" && l["procedure"] === "user.AuthService/WhoAmI").length;
    const run = await users(["whoami"], { env: { ...asAdmin, USERS_PROTOCOL: protocol } });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ username: "admin" });
    const lines = server.logs.filter((l) => l["msg"] === "rpc" && l["procedure"] === "user.AuthService/WhoAmI");
    expect(lines).toHaveLength(before + 1);
    expect(lines.at(-1)?.["protocol"]).toBe(protocol);
  }, SLOW);

  it("USERS_DEBUG=1 traces calls on stderr without the password or the token", async () => {
    const run = await users(["login", "--password-stdin"], {
      env: { USERS_URL: server.url, USERS_USERNAME: "admin", USERS_DEBUG: "1" },
      input: `${TEST_ADMIN_PASSWORD}\n`,
    });
    expect(run.code).toBe(0);
    const issued = run.stdout.trim();
    expect(run.stderr).toContain("[users-debug] #1 → user.AuthService/Login");
    expect(run.stderr).toContain('"password":"[redacted]"');
    expect(run.stderr).toContain('"accessToken":"[redacted]"');
    expect(run.stderr).not.toContain(TEST_ADMIN_PASSWORD);
    expect(run.stderr).not.toContain(issued);
  }, SLOW);

  it("a call the server refuses exits 1 with the code name and the failed fields", async () => {
    const run = await users(["create", "--username", "x", "--email", "not-an-email", "--password-stdin"], { env: { USERS_URL: server.url }, input: "1\n" });
    expect(run.code).toBe(1);
    const lines = run.stderr.split("\n");
    expect(lines[0]).toMatch(/^error: INVALID_ARGUMENT: /);
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^ {2}field email: /), expect.stringMatching(/^ {2}request id: /)]));
  }, SLOW);

  it("an unreachable server exits 1 with UNAVAILABLE and hints", async () => {
    const run = await users(["whoami"], { env: { USERS_URL: `http://127.0.0.1:${await freePort()}`, USERS_TOKEN: token } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: UNAVAILABLE: /);
    expect(run.stderr).toContain("hint: Check that the server is running");
  }, SLOW);
});

describe("import", () => {
  it("imports a CSV file and reports exactly the bad rows by line, exit 3", async () => {
    await admin.createUser({ username: "imp_taken", email: "imp_taken@example.com", password: "s3cret-pass" });
    const file = path.join(work, "people.csv");
    writeFileSync(
      file,
      [
        "username,email,password,full_name,roles", // 1
        "imp_ann,imp_ann@example.com,s3cret-pass,Ann,user", // 2 ok
        "imp_bob,not-an-email,s3cret-pass,Bob,", // 3 invalid email
        "imp_cid,imp_cid@example.com,s3cret-pass,Cid,user;admin", // 4 ok
        "imp_taken,imp_taken2@example.com,s3cret-pass,Taken,", // 5 username exists
        "imp_dan,imp_dan@example.com,s3cret-pass", // 6 too few columns
        "", // 7 blank
        'imp_eve,imp_eve@example.com,s3cret-pass,"Eve', // 8 a name with a line break: rejected, reported at its first line
        'Two",', // 9
        "imp_fay,imp_fay@example.com,1,Fay,", // 10 password too short
        'imp_gus,imp_gus@example.com,s3cret-pass,"Gus, Jr.",', // 11 ok
      ].join("\n"),
    );
    const run = await users(["import", file, "--batch-size", "3"], { env: asAdmin });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(3);
    const lines = run.stdout.trim().split("\n");
    expect(lines.map((l) => l.replace(/^(line \d+: \S+).*$/, "$1"))).toEqual([
      "line 3: INVALID_ARGUMENT",
      "line 5: ALREADY_EXISTS",
      "line 6: INVALID_ROW",
      "line 8: INVALID_ARGUMENT",
      "line 10: INVALID_ARGUMENT",
      "imported 3 of 8 rows, 5 failed",
    ]);
    expect(lines[0]).toMatch(/\[email\]$/);
    expect(lines[2]).toBe("line 6: INVALID_ROW expected 5 columns, found 3");
    expect(lines[3]).toMatch(/\[full_name\]$/);
    expect(lines[4]).toMatch(/\[password\]$/);
    const names = (await admin.collectUsers({ search: "imp_", sortBy: "username", pageSize: 100 })).map((u) => [u.username, u.fullName, u.roles.join(",")]);
    expect(names).toEqual([
      ["imp_ann", "Ann", "user"],
      ["imp_cid", "Cid", "user,admin"],
      ["imp_gus", "Gus, Jr.", "user"],
      ["imp_taken", "", "user"],
    ]);
  }, SLOW);

  it("imports JSON lines with -o json: one object per failed row, then the summary; all good exits 0", async () => {
    const file = path.join(work, "people.jsonl");
    writeFileSync(file, ['{"username":"jl_one","email":"jl_one@example.com","password":"s3cret-pass"}', '{"username":"jl_two","email":"jl_two@example.com","password":"s3cret-pass","full_name":"Two"}', ""].join("\n"));
    const good = await users(["import", file, "-o", "json"], { env: asAdmin });
    expect(good.code).toBe(0);
    expect(good.stdout.trim().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual([{ rows: 2, created: 2, failed: 0, unconfirmed: 0 }]);

    const again = await users(["import", file, "-o", "json"], { env: asAdmin });
    expect(again.code).toBe(3);
    expect(again.stdout.trim().split("\n").map((l) => JSON.parse(l) as unknown)).toEqual([
      { line: 1, code: "ALREADY_EXISTS", message: expect.stringContaining("jl_one") as unknown, fields: expect.any(Array) as unknown },
      { line: 2, code: "ALREADY_EXISTS", message: expect.stringContaining("jl_two") as unknown, fields: expect.any(Array) as unknown },
      { rows: 2, created: 0, failed: 2, unconfirmed: 0 },
    ]);
  }, SLOW);

  it("an import by a non-admin fails as a whole: exit 1, PERMISSION_DENIED", async () => {
    await admin.createUser({ username: "imp_plain", email: "imp_plain@example.com", password: "s3cret-pass" });
    const file = path.join(work, "one.jsonl");
    writeFileSync(file, '{"username":"never_made","email":"never_made@example.com","password":"s3cret-pass"}\n');
    const run = await users(["import", file], { env: { USERS_URL: server.url, USERS_USERNAME: "imp_plain", USERS_PASSWORD: "s3cret-pass" } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: PERMISSION_DENIED: /);
    expect(run.stdout).toBe("imported 0 of 1 rows, 0 failed, 1 unconfirmed\n");
    expect(await admin.collectUsers({ search: "never_made" })).toEqual([]);
  }, SLOW);

  it("shows a progress bar on stderr only when stderr is a terminal", async () => {
    const file = path.join(work, "progress.jsonl");
    writeFileSync(file, '{"username":"bar_one","email":"bar_one@example.com","password":"s3cret-pass"}\n');
    const inPty = await users(["import", file], {
      env: asAdmin,
      // util-linux script(1) gives the command a pseudo-terminal; its output arrives on our stdout.
      command: (argv) => ["script", "-qec", argv.map((a) => `'${a}'`).join(" "), "/dev/null"],
    });
    expect(inPty.code).toBe(0);
    expect(inPty.stdout).toMatch(/importing \[[█░]+\] 100% \| 1\/1 rows/);
    const piped = await users(["import", file], { env: asAdmin });
    expect(piped.code).toBe(3);
    expect(piped.stderr).toBe("");
  }, SLOW);
});

describe("chat and health", () => {
  it("chat sends each stdin line and prints the receipts, then exits 0 at end of input", async () => {
    const run = await users(["chat", "-o", "json"], { env: asAdmin, input: "first line\n\nsecond line\n" });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const messages = run.stdout.trim().split("\n").map((l) => JSON.parse(l) as { content: string; fromUsername: string; id: string });
    expect(messages.map((m) => [m.content, m.fromUsername])).toEqual([
      ["first line", "admin"],
      ["second line", "admin"],
    ]);
    expect(Number(messages[1]?.id)).toBeGreaterThan(Number(messages[0]?.id));
  }, SLOW);

  it("chat --listen prints history and new messages until Ctrl-C, then exits 0", async () => {
    const sent = await admin.sendChatMessage("listen history");
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "client/cli.ts"), "chat", "--listen", "--since", String(sent.id - 1n)], {
      cwd: root,
      env: { PATH: process.env["PATH"] ?? "", ...asAdmin },
    });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    const deadline = Date.now() + 60_000;
    while (!stdout.includes("listen history") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await admin.sendChatMessage("listen live");
    while (!stdout.includes("listen live") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stdout.trim().split("\n")).toEqual([expect.stringMatching(/#\d+ admin → everyone: listen history$/), expect.stringMatching(/#\d+ admin → everyone: listen live$/)]);
  }, SLOW);

  it("health: 0 when SERVING, 4 when NOT_SERVING, 1 when unreachable", async () => {
    const serving = await users(["health"], { env: { USERS_URL: server.url } });
    expect(serving.code).toBe(0);
    expect(serving.stdout).toMatch(new RegExp(`^${server.url}  SERVING  \\d+ ms\\n$`));

    // shutdown() holds NOT_SERVING against the server's own periodic probe, as during a drain.
    server.app.health.shutdown();
    try {
      const notServing = await users(["health", "-o", "json"], { env: { USERS_URL: server.url } });
      expect(notServing.code).toBe(4);
      expect(JSON.parse(notServing.stdout)).toMatchObject({ url: server.url, connected: true, status: "NOT_SERVING" });
    } finally {
      server.app.health.resume();
    }

    const dead = await users(["health", "--timeout", "2000"], { env: { USERS_URL: `http://127.0.0.1:${await freePort()}` } });
    expect(dead.code).toBe(1);
    expect(dead.stdout).toMatch(/UNREACHABLE/);
    expect(dead.stderr).toMatch(/^error: UNAVAILABLE: /);
  }, SLOW);
});
