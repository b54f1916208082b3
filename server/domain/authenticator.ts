import { unauthenticated } from "./errors.js";
import { ADMIN_ROLE, type Principal, type User } from "./types.js";
import { publicUser } from "./user-directory.js";
import { userLimits } from "./user-rules.js";
import type { LoginThrottle } from "../security/login-throttle.js";
import type { PasswordHasher } from "../security/password-hasher.js";
import type { IssuedToken, TokenService } from "../security/token-service.js";
import type { StoredUser, UserStore } from "../storage/ports.js";

export interface AuthenticatorDeps {
  users: UserStore;
  hasher: PasswordHasher;
  tokens: TokenService;
  throttle: LoginThrottle;
}

/** Rows are immutable snapshots, so one principal per row serves every call while the row is cached. */
const principals = new WeakMap<StoredUser, Principal>();

function principalOf(stored: StoredUser): Principal {
  let principal = principals.get(stored);
  if (principal === undefined) {
    principal = Object.freeze({ userId: stored.id, username: stored.username, roles: stored.roles, isAdmin: stored.roles.includes(ADMIN_ROLE) });
    principals.set(stored, principal);
  }
  return principal;
}

/** One message for every failed login, so it never tells whether the account exists. */
export const LOGIN_FAILED = "invalid username or password";

/** Longer than any username or email can be, so such a login needs no database lookup. */
const MAX_LOGIN_LENGTH = Math.max(userLimits.usernameMax, userLimits.emailMax);

/** Logs users in and turns tokens back into principals. */
export function createAuthenticator(deps: AuthenticatorDeps) {
  const { users, hasher, tokens, throttle } = deps;

  return {
    /**
     * Checks credentials; unknown user, wrong password, over-long password and
     * inactive account fail alike, with one bcrypt check each, so neither the
     * message nor the time tells whether the account exists.
     */
    async login(username: string, password: string, address: string): Promise<IssuedToken & { user: User }> {
      await throttle.begin(username, address);
      // bcrypt reads only the first 72 bytes, so a longer password could match a stored one it is not equal to.
      const acceptable = password !== "" && Buffer.byteLength(password, "utf8") <= userLimits.passwordMaxBytes;
      const stored = username === "" || username.length > MAX_LOGIN_LENGTH ? undefined : await users.findByLogin(username);
      let ok = false;
      if (stored === undefined || !acceptable) {
        await hasher.verifyDummy(password.slice(0, userLimits.passwordMaxBytes));
      } else {
        ok = await hasher.verify(password, stored.passwordHash);
      }
      if (!ok || stored === undefined || stored.status !== "active") throw unauthenticated(LOGIN_FAILED);
      await throttle.succeeded(username, address);
      const issued = await tokens.issue({ userId: stored.id, username: stored.username, roles: stored.roles });
      return { ...issued, user: publicUser(stored) };
    },

    /**
     * Verifies a bearer token and loads the current user, so a suspended or
     * deleted account, or a changed role, takes effect before the token expires.
     */
    async principalFromToken(token: string): Promise<Principal> {
      const claims = await tokens.verify(token);
      const stored = await users.getById(claims.userId);
      if (stored === undefined || stored.status !== "active") throw unauthenticated("account is not active");
      return principalOf(stored);
    },

    /** Issues a fresh token for a caller whose token was just verified. */
    async refresh(principal: Principal): Promise<IssuedToken> {
      return tokens.issue({ userId: principal.userId, username: principal.username, roles: principal.roles });
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
