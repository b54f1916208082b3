import { readFile } from "node:fs/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { Command, CommanderError, Option } from "commander";
import cliProgress from "cli-progress";
import { parseStrategy, type BalancerStrategyName } from "../balancer-strategy.js";
import { clientEnvDocs, readClientEnv, type ClientEnv } from "../client-env.js";
import { explainError, formatExplanation } from "../error-explainer.js";
import { parseProtocol, type Protocol } from "../protocol.js";
import { createUserClient, type UserChanges, type UserClient } from "../user-client.js";
import { runChat, runChatListen } from "./chat-command.js";
import { ExitCode, exitCodeDocs } from "./exit-codes.js";
import { formatFromName, parseImportFile, type ImportFormat } from "./import-file.js";
import { failureLine, importUsers } from "./import-users.js";
import { chatJson, chatLine, formatTable, parseStatus, userJson, userRow, userTableHeader } from "./output.js";
import { promptHidden, readFirstLine, type InputStream } from "./terminal-input.js";
import { UsageError } from "./usage-error.js";

/** The process's streams and environment; tests and the bin entry pass the real ones. */
export interface CliIo {
  stdin: InputStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  /** Registers a Ctrl-C handler; returns its removal. */
  onInterrupt: (handler: () => void) => () => void;
}

interface GlobalOptions {
  url?: string;
  protocol?: string;
  token?: string;
  timeout?: string;
  strategy?: string;
  debug?: boolean;
}

/** Default deadline of one import batch: bcrypt makes creating users slow by design. */
const IMPORT_BATCH_TIMEOUT_MS = 300_000;

const repeatable = (value: string, previous: string[] = []) => [...previous, value];

function positiveInt(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0) throw new UsageError(`${name} must be a positive whole number, got "${value}"`);
  return Number(value);
}

function userId(value: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) === 0n) throw new UsageError(`user id must be a positive whole number, got "${value}"`);
  return BigInt(value);
}

function metadataPairs(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--meta needs key=value, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function outputOption(choices: string[], fallback: string): Option {
  return new Option("-o, --output <format>", "output format").choices(choices).default(fallback);
}

function helpEpilog(): string {
  const env = clientEnvDocs.map((d) => `  ${d.name.padEnd(17)} ${d.meaning} (default: ${d.fallback})`).join("\n");
  const codes = exitCodeDocs.map(([code, meaning]) => `  ${String(code).padEnd(4)} ${meaning}`).join("\n");
  return `\nEnvironment:\n${env}\n\nExit codes:\n${codes}\n`;
}

/** Builds the `users` command tree; every action reports its outcome through setExit or by throwing. */
function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const write = (line: string) => io.stdout.write(`${line}\n`);
  const note = (line: string) => io.stderr.write(`${line}\n`);
  let env: ClientEnv | undefined;
  const clientEnv = () => {
    if (env === undefined) {
      try {
        env = readClientEnv(io.env);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    }
    return env;
  };

  const program = new Command("users");
  program
    .description("Operate the user service from a terminal: gRPC by default, Connect or gRPC-Web on request.")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError("(run with --help for usage)")
    .option("--url <urls>", "server base URL; comma-separated URLs are load-balanced (env USERS_URL)")
    .option("--protocol <name>", "grpc, connect or grpc-web (env USERS_PROTOCOL)")
    .option("--token <token>", "bearer token (env USERS_TOKEN; prefer the variable, arguments show in ps)")
    .option("--timeout <ms>", "deadline per call in milliseconds (env USERS_TIMEOUT_MS)")
    .option("--strategy <name>", "round-robin, weighted or random, with several URLs")
    .option("--debug", "log every call to stderr with secrets redacted (env USERS_DEBUG=1)")
    .addHelpText("after", helpEpilog());

  const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();

  /** The client for one command; logs in with USERS_USERNAME/USERS_PASSWORD when there is no token and `auth` is wanted. */
  async function withClient<T>(cmd: Command, auth: boolean, fn: (client: UserClient) => Promise<T>): Promise<T> {
    const g = globals(cmd);
    const e = clientEnv();
    let protocol: Protocol;
    let strategy: BalancerStrategyName;
    try {
      protocol = g.protocol === undefined ? e.protocol : parseProtocol(g.protocol);
      strategy = g.strategy === undefined ? "round-robin" : parseStrategy(g.strategy);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const urls = g.url === undefined ? e.urls : g.url.split(",").map((u) => u.trim()).filter((u) => u !== "");
    for (const url of urls) if (!/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`server URL must start with http:// or https://, got "${url}"`);
    const timeoutMs = g.timeout === undefined ? e.timeoutMs : positiveInt("--timeout", g.timeout);
    const client = createUserClient({
      addresses: urls,
      protocol,
      strategy,
      token: g.token ?? e.token,
      timeoutMs,
      debug: g.debug === true || e.debug,
      healthCheck: false,
    });
    try {
      if (auth && client.token === undefined && e.username !== undefined && e.password !== undefined) await client.login(e.username, e.password);
      return await fn(client);
    } finally {
      client.close();
    }
  }

  async function newPassword(fromStdin: boolean | undefined, prompt: string): Promise<string | undefined> {
    if (fromStdin === true) return readFirstLine(io.stdin);
    if (io.stdin.isTTY === true) return promptHidden(prompt, io.stdin, io.stderr);
    return undefined;
  }

  program
    .command("login")
    .description("log in and print the access token (e.g. export USERS_TOKEN=$(users login))")
    .option("--username <name>", "username or email (env USERS_USERNAME)")
    .option("--password-stdin", "read the password from the first line of stdin (else USERS_PASSWORD, else a prompt)")
    .action(async (opts: { username?: string; passwordStdin?: boolean }, cmd: Command) => {
      const e = clientEnv();
      const username = opts.username ?? e.username;
      if (username === undefined) throw new UsageError("login needs --username or USERS_USERNAME");
      const password = opts.passwordStdin === true ? await readFirstLine(io.stdin) : (e.password ?? (await newPassword(undefined, "password: ")));
      if (password === undefined) throw new UsageError("login needs a password: --password-stdin, USERS_PASSWORD, or a terminal to prompt on");
      await withClient(cmd, false, async (client) => {
        const res = await client.login(username, password);
        write(res.accessToken);
        if (io.stderr.isTTY === true) note(`logged in as ${res.user?.username ?? username}; the token expires at ${new Date(Number(res.expiresAt)).toISOString()}`);
      });
    });

  program
    .command("refresh")
    .description("trade the current token for a fresh one and print it")
    .action(async (_opts: unknown, cmd: Command) => {
      await withClient(cmd, true, async (client) => write((await client.refresh()).accessToken));
    });

  program
    .command("whoami")
    .description("print the user the token belongs to")
    .addOption(outputOption(["json", "table"], "json"))
    .action(async (opts: { output: string }, cmd: Command) => {
      await withClient(cmd, true, async (client) => {
        const me = await client.whoAmI();
        write(opts.output === "json" ? userJson(me) : formatTable(userTableHeader, [userRow(me)]));
      });
    });

  program
    .command("get")
    .description("print one user; exit 1 with NOT_FOUND when there is none")
    .argument("<id>", "user id")
    .option("--fields <names>", "comma-separated proto field names to fill, e.g. username,email")
    .addOption(outputOption(["json", "table"], "json"))
    .action(async (id: string, opts: { fields?: string; output: string }, cmd: Command) => {
      const target = userId(id);
      await withClient(cmd, true, async (client) => {
        const fields = opts.fields?.split(",").map((f) => f.trim()).filter((f) => f !== "");
        const user = await client.getUser(target, { fields });
        if (user === undefined) throw new ConnectError(`user ${target} not found`, Code.NotFound);
        write(opts.output === "json" ? userJson(user) : formatTable(userTableHeader, [userRow(user)]));
      });
    });

  program
    .command("create")
    .description("create a user (anonymous sign-up, or as admin with roles) and print it")
    .requiredOption("--username <name>", "username")
    .requiredOption("--email <email>", "email address")
    .option("--full-name <name>", "full name")
    .option("--avatar-url <url>", "avatar URL")
    .option("--role <role>", "a role (repeatable; admins only)", repeatable)
    .option("--meta <key=value>", "a metadata entry (repeatable)", repeatable)
    .option("--password-stdin", "read the new user's password from the first line of stdin (else a prompt)")
    .addOption(outputOption(["json", "table"], "json"))
    .action(async (opts: { username: string; email: string; fullName?: string; avatarUrl?: string; role?: string[]; meta?: string[]; passwordStdin?: boolean; output: string }, cmd: Command) => {
      const metadata = metadataPairs(opts.meta ?? []);
      const password = await newPassword(opts.passwordStdin, "new user's password: ");
      if (password === undefined) throw new UsageError("create needs a password: --password-stdin, or a terminal to prompt on");
      await withClient(cmd, true, async (client) => {
        const user = await client.createUser({
          username: opts.username,
          email: opts.email,
          password,
          fullName: opts.fullName ?? "",
          avatarUrl: opts.avatarUrl ?? "",
          roles: opts.role ?? [],
          metadata,
        });
        write(opts.output === "json" ? userJson(user) : formatTable(userTableHeader, [userRow(user)]));
      });
    });

  program
    .command("update")
    .description("change only the given fields of a user and print the result")
    .argument("<id>", "user id")
    .option("--username <name>", "new username")
    .option("--email <email>", "new email")
    .option("--full-name <name>", "new full name")
    .option("--avatar-url <url>", "new avatar URL")
    .option("--status <status>", "active, inactive, suspended or deleted (admins only)")
    .option("--role <role>", "the new set of roles (repeatable; admins only)", repeatable)
    .option("--meta <key=value>", "the new metadata, replacing the old (repeatable)", repeatable)
    .addOption(outputOption(["json", "table"], "json"))
    .action(async (id: string, opts: { username?: string; email?: string; fullName?: string; avatarUrl?: string; status?: string; role?: string[]; meta?: string[]; output: string }, cmd: Command) => {
      const target = userId(id);
      const changes: UserChanges = {};
      if (opts.username !== undefined) changes.username = opts.username;
      if (opts.email !== undefined) changes.email = opts.email;
      if (opts.fullName !== undefined) changes.fullName = opts.fullName;
      if (opts.avatarUrl !== undefined) changes.avatarUrl = opts.avatarUrl;
      if (opts.status !== undefined) {
        const status = parseStatus(opts.status);
        if (status === undefined) throw new UsageError(`--status must be active, inactive, suspended or deleted, got "${opts.status}"`);
        changes.status = status;
      }
      if (opts.role !== undefined) changes.roles = opts.role;
      if (opts.meta !== undefined) changes.metadata = metadataPairs(opts.meta);
      if (Object.keys(changes).length === 0) throw new UsageError("update needs at least one change, e.g. --full-name");
      await withClient(cmd, true, async (client) => {
        const user = await client.updateUser(target, changes);
        write(opts.output === "json" ? userJson(user) : formatTable(userTableHeader, [userRow(user)]));
      });
    });

  program
    .command("delete")
    .description("soft-delete a user (status deleted), or remove it with --hard")
    .argument("<id>", "user id")
    .option("--hard", "remove the user instead of marking it deleted (admins only)")
    .action(async (id: string, opts: { hard?: boolean }, cmd: Command) => {
      const target = userId(id);
      await withClient(cmd, true, async (client) => {
        await client.deleteUser(target, { soft: opts.hard !== true });
        write(opts.hard === true ? `removed user ${target}` : `soft-deleted user ${target}`);
      });
    });

  program
    .command("list")
    .description("list users as a table, or as JSON lines with -o json")
    .option("--page <n>", "page number from 1", "1")
    .option("--page-size <n>", "users per page, at most 1000", "50")
    .option("--search <text>", "substring of username, email or full name")
    .option("--status <status>", "active, inactive, suspended or deleted")
    .option("--role <role>", "users having this role (repeatable)", repeatable)
    .option("--sort-by <field>", "id, username, email, full_name, created_at or updated_at", "id")
    .option("--desc", "sort descending")
    .addOption(outputOption(["table", "json"], "table"))
    .action(async (opts: { page: string; pageSize: string; search?: string; status?: string; role?: string[]; sortBy: string; desc?: boolean; output: string }, cmd: Command) => {
      const status = opts.status === undefined ? undefined : parseStatus(opts.status);
      if (opts.status !== undefined && status === undefined) throw new UsageError(`--status must be active, inactive, suspended or deleted, got "${opts.status}"`);
      const filter = {
        page: positiveInt("--page", opts.page),
        pageSize: positiveInt("--page-size", opts.pageSize),
        search: opts.search ?? "",
        status,
        roles: opts.role ?? [],
        sortBy: opts.sortBy,
        sortOrder: opts.desc === true ? "desc" : "asc",
      };
      await withClient(cmd, true, async (client) => {
        if (opts.output === "json") {
          for await (const user of client.listUsers(filter)) write(userJson(user));
          return;
        }
        const rows = [];
        for await (const user of client.listUsers(filter)) rows.push(userRow(user));
        write(formatTable(userTableHeader, rows));
      });
    });

  program
    .command("import")
    .description("create users from a CSV or JSON-lines file through BatchCreateUsers (admin); lists the rows that failed")
    .argument("<file>", "a .csv file with a header row, or a .jsonl file with one user object per line")
    .addOption(new Option("--format <format>", "file format when the extension does not say").choices(["csv", "jsonl"]))
    .option("--batch-size <n>", "rows per BatchCreateUsers call", "500")
    .option("--no-progress", "no progress bar (it is only shown when stderr is a terminal)")
    .addOption(outputOption(["text", "json"], "text"))
    .action(async (file: string, opts: { format?: ImportFormat; batchSize: string; progress: boolean; output: string }, cmd: Command) => {
      const format = opts.format ?? formatFromName(file);
      if (format === undefined) throw new UsageError(`cannot tell the format of "${file}": use --format csv or --format jsonl`);
      const batchSize = positiveInt("--batch-size", opts.batchSize);
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch (error) {
        throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
      }
      const rows = parseImportFile(text, format);
      const g = globals(cmd);
      const timeoutMs = g.timeout === undefined ? (clientEnv().timeoutMs ?? IMPORT_BATCH_TIMEOUT_MS) : positiveInt("--timeout", g.timeout);
      const bar =
        opts.progress && io.stderr.isTTY === true && rows.length > 0
          ? new cliProgress.SingleBar(
              { stream: io.stderr as NodeJS.WritableStream & { isTTY: boolean }, format: "importing [{bar}] {percentage}% | {value}/{total} rows", hideCursor: true },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      bar?.start(rows.length, 0);
      const result = await withClient(cmd, true, (client) =>
        importUsers(client, rows, { batchSize, timeoutMs, onProgress: (done) => bar?.update(done) }),
      ).finally(() => bar?.stop());
      if (opts.output === "json") {
        for (const f of result.failures) write(JSON.stringify(f));
        write(JSON.stringify({ rows: result.rows, created: result.created, failed: result.failures.length, unconfirmed: result.unconfirmed }));
      } else {
        for (const f of result.failures) write(failureLine(f));
        const unconfirmed = result.unconfirmed > 0 ? `, ${result.unconfirmed} unconfirmed` : "";
        write(`imported ${result.created} of ${result.rows} rows, ${result.failures.length} failed${unconfirmed}`);
      }
      if (result.error !== undefined) throw result.error;
      setExit(result.failures.length > 0 ? ExitCode.partialImport : ExitCode.ok);
    });

  program
    .command("chat")
    .description("chat from the terminal: sends each stdin line, prints every message; --listen only prints")
    .option("--to <id>", "send direct messages to this user instead of everyone")
    .option("--listen", "only print the chat (SubscribeChat), history first, until Ctrl-C")
    .option("--since <id>", "with --listen: start after this message id")
    .option("--history <n>", "with --listen: recent messages to replay first", "20")
    .addOption(outputOption(["text", "json"], "text"))
    .action(async (opts: { to?: string; listen?: boolean; since?: string; history: string; output: string }, cmd: Command) => {
      const json = opts.output === "json";
      const toUserId = opts.to === undefined ? 0n : userId(opts.to);
      if (opts.listen === true) {
        const sinceId = opts.since === undefined ? 0n : userId(opts.since);
        const historyLimit = positiveInt("--history", opts.history);
        await withClient(cmd, true, (client) => runChatListen(client, io.stdout, { sinceId, historyLimit, json, onInterrupt: io.onInterrupt }));
        return;
      }
      await withClient(cmd, true, (client) => runChat(client, io.stdin, io.stdout, { toUserId, json, onInterrupt: io.onInterrupt }));
    });

  program
    .command("send")
    .description("send one chat message and print it as stored")
    .argument("<text...>", "the message")
    .option("--to <id>", "a direct message to this user")
    .addOption(outputOption(["text", "json"], "text"))
    .action(async (words: string[], opts: { to?: string; output: string }, cmd: Command) => {
      const toUserId = opts.to === undefined ? 0n : userId(opts.to);
      await withClient(cmd, true, async (client) => {
        const message = await client.sendChatMessage(words.join(" "), { toUserId });
        write(opts.output === "json" ? chatJson(message) : chatLine(message));
      });
    });

  program
    .command("health")
    .description("ask each server's grpc.health.v1 service; exit 4 when one answers but is not SERVING")
    .option("--service <name>", 'the service to ask about; "" is the whole server', "")
    .addOption(outputOption(["text", "json"], "text"))
    .action(async (opts: { service: string; output: string }, cmd: Command) => {
      const g = globals(cmd);
      const timeoutMs = g.timeout === undefined ? (clientEnv().timeoutMs ?? 5_000) : positiveInt("--timeout", g.timeout);
      const reports = await withClient(cmd, false, (client) => client.checkConnection({ timeoutMs, service: opts.service }));
      for (const r of reports) {
        if (opts.output === "json") write(JSON.stringify(r));
        else write(`${r.url}  ${r.status}  ${r.latencyMs} ms`);
      }
      const unreachable = reports.find((r) => !r.connected);
      if (unreachable?.error !== undefined) {
        note(`error: ${formatExplanation(unreachable.error).join("\n")}`);
        setExit(ExitCode.rpcFailed);
        return;
      }
      setExit(reports.every((r) => r.status === "SERVING") ? ExitCode.ok : ExitCode.notServing);
    });

  return program;
}

/** Runs the CLI and returns the exit code; failures are reported on stderr, never thrown. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\n`);
      return ExitCode.usage;
    }
    if (error instanceof Error && error.message === "interrupted") return ExitCode.interrupted;
    const explained = explainError(error);
    io.stderr.write(`error: ${formatExplanation(explained).join("\n")}\n`);
    return ExitCode.rpcFailed;
  }
}
