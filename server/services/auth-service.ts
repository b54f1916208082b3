import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { LoginResponseSchema, RefreshTokenResponseSchema, WhoAmIResponseSchema, type AuthService } from "../../gen/user/auth_pb.js";
import type { Authenticator } from "../domain/authenticator.js";
import { unauthenticated } from "../domain/errors.js";
import type { UserDirectory } from "../domain/user-directory.js";
import { clientAddressKey, principalKey } from "../interceptors/context-keys.js";
import { userToPb } from "./mappers.js";

export interface AuthServiceDeps {
  authenticator: Authenticator;
  directory: UserDirectory;
}

/** The AuthService handlers: login, who-am-I and token refresh. */
export function createAuthService(deps: AuthServiceDeps): ServiceImpl<typeof AuthService> {
  return {
    async login(req, ctx) {
      const result = await deps.authenticator.login(req.username, req.password, ctx.values.get(clientAddressKey));
      return create(LoginResponseSchema, {
        accessToken: result.token,
        expiresAt: BigInt(result.expiresAt),
        user: userToPb(result.user),
      });
    },

    async whoAmI(_req, ctx) {
      const principal = ctx.values.get(principalKey);
      if (principal === undefined) throw unauthenticated();
      const user = await deps.directory.getUser(principal, principal.userId);
      if (user === undefined) throw unauthenticated("account is not active");
      return create(WhoAmIResponseSchema, { user: userToPb(user) });
    },

    async refreshToken(_req, ctx) {
      const principal = ctx.values.get(principalKey);
      if (principal === undefined) throw unauthenticated();
      const issued = await deps.authenticator.refresh(principal);
      return create(RefreshTokenResponseSchema, { accessToken: issued.token, expiresAt: BigInt(issued.expiresAt) });
    },
  };
}
