import { create } from "@bufbuild/protobuf";
import { Code, createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AuthService, LoginResponseSchema, WhoAmIResponseSchema } from "../../gen/user/auth_pb.js";
import { UserSchema } from "../../gen/user/user_pb.js";
import { createTokenService } from "../security/token-service.js";
import { createAuthInterceptor } from "./auth.js";
import { principalKey } from "./context-keys.js";
import { createErrorMappingInterceptor } from "./error-mapping.js";
import { failure } from "../../test/support/rpc-expect.js";

const tokens = createTokenService({ secret: "s".repeat(40), issuer: "t", audience: "t", ttlSeconds: 600, clock: { now: () => Date.now() } });

/** The interceptor under test, in front of a tiny AuthService that reports which principal reached it. */
function clientWith(header: string | undefined) {
  let handlerRuns = 0;
  const transport = createRouterTransport(
    (router) =>
      router.service(AuthService, {
        login(_req, ctx) {
          handlerRuns++;
          return create(LoginResponseSchema, { user: create(UserSchema, { username: ctx.values.get(principalKey)?.username ?? "<anonymous>" }) });
        },
        whoAmI(_req, ctx) {
          handlerRuns++;
          return create(WhoAmIResponseSchema, { user: create(UserSchema, { username: ctx.values.get(principalKey)?.username ?? "<anonymous>" }) });
        },
        refreshToken() {
          throw new Error("not used");
        },
      }),
    {
      router: {
        interceptors: [
          createErrorMappingInterceptor(() => {}),
          createAuthInterceptor({
            authenticator: {
              async principalFromToken(token) {
                const claims = await tokens.verify(token);
                return { userId: claims.userId, username: claims.username, roles: claims.roles, isAdmin: false };
              },
            },
            isPublic: (procedure) => procedure === "user.AuthService/Login",
          }),
        ],
      },
      transport: {
        interceptors: header === undefined ? [] : [((next) => async (req) => (req.header.set("authorization", header), next(req))) as Interceptor],
      },
    },
  );
  return { client: createClient(AuthService, transport), runs: () => handlerRuns };
}

describe("auth interceptor", () => {
  it("puts the verified principal into the context values", async () => {
    const { token } = await tokens.issue({ userId: 7, username: "alice", roles: ["user"] });
    for (const header of [`Bearer ${token}`, `bearer ${token}`, `  Bearer ${token}  `]) {
      expect((await clientWith(header).client.whoAmI({})).user?.username).toBe("alice");
    }
  });

  it.each([
    ["no header", undefined, "missing bearer token"],
    ["an empty header", "", "missing bearer token"],
    ["another scheme", "Basic YWxpY2U6cHc=", 'authorization header must be "Bearer <token>"'],
    ["a bare token", "eyJhbGciOiJIUzI1NiJ9.e30.x", 'authorization header must be "Bearer <token>"'],
    ["an empty bearer", "Bearer ", 'authorization header must be "Bearer <token>"'],
    ["two tokens", "Bearer a.b.c d.e.f", 'authorization header must be "Bearer <token>"'],
    ["garbage", "Bearer not-a-jwt", "invalid token"],
  ])("refuses a protected call with %s as UNAUTHENTICATED before the handler runs", async (_case, header, message) => {
    const { client, runs } = clientWith(header);
    const error = await failure(client.whoAmI({}));
    expect([error.code, error.rawMessage]).toEqual([Code.Unauthenticated, message]);
    expect(runs()).toBe(0);
  });

  it("lets an anonymous call through to a public procedure, with no principal", async () => {
    const { client, runs } = clientWith(undefined);
    expect((await client.login({})).user?.username).toBe("<anonymous>");
    expect(runs()).toBe(1);
  });

  it("still verifies a token sent to a public procedure, so a bad one never passes silently", async () => {
    const { client, runs } = clientWith("Bearer not-a-jwt");
    const error = await failure(client.login({}));
    expect([error.code, error.rawMessage]).toEqual([Code.Unauthenticated, "invalid token"]);
    expect(runs()).toBe(0);
    const { token } = await tokens.issue({ userId: 7, username: "alice", roles: ["user"] });
    expect((await clientWith(`Bearer ${token}`).client.login({})).user?.username).toBe("alice");
  });
});
