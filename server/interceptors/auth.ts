import type { Interceptor } from "@connectrpc/connect";
import { unauthenticated } from "../domain/errors.js";
import type { Authenticator } from "../domain/authenticator.js";
import { principalKey } from "./context-keys.js";

export interface AuthInterceptorOptions {
  authenticator: Pick<Authenticator, "principalFromToken">;
  /** Procedures callable without a token, as "package.Service/Method". */
  isPublic: (procedure: string) => boolean;
}

const BEARER = /^Bearer ([A-Za-z0-9_\-.~+/]+=*)$/i;

/**
 * Verifies `authorization: Bearer …` (gRPC metadata and HTTP headers alike)
 * and puts the caller into the context values. A token that is present is
 * always checked, even on public procedures, so a bad token never passes silently.
 */
export function createAuthInterceptor(options: AuthInterceptorOptions): Interceptor {
  return (next) => async (req) => {
    const header = req.header.get("authorization");
    if (header === null || header === "") {
      if (!options.isPublic(`${req.service.typeName}/${req.method.name}`)) {
        throw unauthenticated("missing bearer token");
      }
      return next(req);
    }
    const match = BEARER.exec(header.trim());
    if (match === null || match[1] === undefined) throw unauthenticated("authorization header must be \"Bearer <token>\"");
    req.contextValues.set(principalKey, await options.authenticator.principalFromToken(match[1]));
    return next(req);
  };
}
