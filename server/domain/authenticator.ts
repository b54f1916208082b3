import { unauthenticated } from "./errors.js";
import { ADMIN_ROLE, type Principal, type User } from "./types.js";
import { publicUser } from "./user-directory.js";
import type { LoginThrottle } from "../security/login-throttle.js";
import type { PasswordHasher } from "../security/password-hasher.js";
import type { IssuedToken, TokenService } from "../security/token-service.js";
import type { UserStore } from "../storage/ports.js";

export interface AuthenticatorDeps {
  users: UserStore;
  hasher: PasswordHasher;
  tokens: TokenService;
  throttle: LoginThrottle;
}

/** One message for every failed login, so it never tells whether the account exists. */
export const LOGIN_FAILED = "invalid username or password";

/** Logs users in and turns tokens back into principals. */
export function createAuthenticator(deps: AuthenticatorDeps) {
  const { users, hasher, tokens, throttle } = deps;

  return {
    /** Checks credentials; unknown user, wrong password and inactive account fail alike, in about the same time. */
    async login(username: string, password: string, address: string): Promise<IssuedToken & { user: User }> {
      await throttle.assertAllowed(username, address);
      const stored = username === "" ? undefined : await users.findByLogin(username);
      let ok = false;
      if (stored === undefined || password === "") {
        await hasher.verifyDummy(password);
      } else {
        ok = await hasher.verify(password, stored.passwordHash);
      }
      if (!ok || stored === undefined || stored.status !== "active") {
        await throttle.recordFailure(username, address);
        throw unauthenticated(LOGIN_FAILED);
      }
      await throttle.recordSuccess(username);
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
      return {
        userId: stored.id,
        username: stored.username,
        roles: stored.roles,
        isAdmin: stored.roles.includes(ADMIN_ROLE),
      };
    },

    /** Issues a fresh token for a caller whose token was just verified. */
    async refresh(principal: Principal): Promise<IssuedToken> {
      return tokens.issue({ userId: principal.userId, username: principal.username, roles: principal.roles });
    },
  };
}

export type Authenticator = ReturnType<typeof createAuthenticator>;
