import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { Config } from "./config.js";
import { DomainError } from "./domain/errors.js";
import { ADMIN_ROLE, USER_ROLE, type Clock } from "./domain/types.js";
import type { PasswordHasher } from "./security/password-hasher.js";
import type { UserStore } from "./storage/ports.js";

export interface BootstrapDeps {
  config: Pick<Config, "adminPassword" | "seedDemoData">;
  users: UserStore;
  hasher: PasswordHasher;
  clock: Clock;
  logger: Logger;
  /** Where a generated password is shown once; not the logger, so it never lands in log storage by accident. */
  announce?: (text: string) => void;
}

/** A password nobody typed, readable enough to copy. */
function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}

async function createIfMissing(
  deps: BootstrapDeps,
  user: { username: string; email: string; fullName: string; roles: string[] },
  password: string,
): Promise<boolean> {
  try {
    await deps.users.create({
      ...user,
      avatarUrl: "",
      passwordHash: await deps.hasher.hash(password),
      status: "active",
      metadata: {},
      createdAt: deps.clock.now(),
    });
    return true;
  } catch (error) {
    // Another replica starting at the same moment created it first.
    if (error instanceof DomainError && error.kind === "already_exists") return false;
    throw error;
  }
}

/**
 * On an empty database, creates the admin account (and the seed's demo user
 * when asked), so a fresh install can be used at once without a built-in password.
 */
export async function ensureInitialAccounts(deps: BootstrapDeps): Promise<void> {
  if ((await deps.users.count()) > 0) return;
  const announce = deps.announce ?? ((text: string) => process.stdout.write(text));
  const adminPassword = deps.config.adminPassword ?? generatePassword();
  const created = await createIfMissing(
    deps,
    { username: "admin", email: "admin@example.com", fullName: "Administrator", roles: [ADMIN_ROLE, USER_ROLE] },
    adminPassword,
  );
  if (created) {
    deps.logger.info({ username: "admin" }, "created the admin account");
    if (deps.config.adminPassword === undefined) {
      announce(`\n  First start: the admin account's password is ${adminPassword}\n  It is shown only this once; set ADMIN_PASSWORD to choose it.\n\n`);
    }
  }
  if (deps.config.seedDemoData) {
    const demoPassword = generatePassword();
    if (await createIfMissing(deps, { username: "john_doe", email: "john@example.com", fullName: "John Doe", roles: [USER_ROLE] }, demoPassword)) {
      deps.logger.info({ username: "john_doe" }, "created the demo user");
      announce(`  Demo user john_doe has the password ${demoPassword} (shown only this once).\n\n`);
    }
  }
}
