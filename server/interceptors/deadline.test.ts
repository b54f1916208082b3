import { create } from "@bufbuild/protobuf";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { AuthService, LoginResponseSchema } from "../../gen/user/auth_pb.js";
import { UserSchema, UserService } from "../../gen/user/user_pb.js";
import { createDeadlineInterceptor } from "./deadline.js";
import { failure } from "../../test/support/rpc-expect.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Handlers that ignore their signal, as a slow bcrypt check or a slow query
 * would. The deadline travels only as a header (no client-side timer), so
 * what the caller sees is what the server decided.
 */
function slowServices(probe: { finished: number; streamClosed: boolean }, deadlineMs?: number, interceptors = [createDeadlineInterceptor()]) {
  return createRouterTransport(
    (router) => {
      router.service(AuthService, {
        async login() {
          await sleep(300);
          probe.finished++;
          return create(LoginResponseSchema, { accessToken: "late" });
        },
        whoAmI() {
          throw new Error("not used");
        },
        refreshToken() {
          throw new Error("not used");
        },
      });
      router.service(UserService, {
        async *listUsers() {
          try {
            yield create(UserSchema, { id: 1n });
            await sleep(300);
            yield create(UserSchema, { id: 2n });
          } finally {
            probe.streamClosed = true;
          }
        },
      });
    },
    {
      router: { interceptors },
      transport: {
        interceptors: [
          (next) => async (req) => {
            if (deadlineMs !== undefined) req.header.set("connect-timeout-ms", String(deadlineMs));
            return next(req);
          },
        ],
      },
    },
  );
}

describe("deadline interceptor", () => {
  it("answers a unary call DEADLINE_EXCEEDED when its deadline passes while the handler still runs", async () => {
    const probe = { finished: 0, streamClosed: false };
    const auth = createClient(AuthService, slowServices(probe, 50));
    const error = await failure(auth.login({}));
    expect(error.code).toBe(Code.DeadlineExceeded);
    // The answer came while the handler was still sleeping.
    expect(probe.finished).toBe(0);
    // Without the interceptor Connect waits for the handler and answers OK after the deadline.
    const plain = createClient(AuthService, slowServices(probe, 50, []));
    expect((await plain.login({})).accessToken).toBe("late");
  });

  it("leaves calls that finish in time alone", async () => {
    const probe = { finished: 0, streamClosed: false };
    expect((await createClient(AuthService, slowServices(probe, 2000)).login({})).accessToken).toBe("late");
    expect((await createClient(AuthService, slowServices(probe)).login({})).accessToken).toBe("late");
  });

  it("ends a stream waiting for its next message with DEADLINE_EXCEEDED and lets the handler clean up", async () => {
    const probe = { finished: 0, streamClosed: false };
    const users = createClient(UserService, slowServices(probe, 100));
    const seen: bigint[] = [];
    const error = await failure(
      (async () => {
        for await (const user of users.listUsers({})) seen.push(user.id);
      })(),
    );
    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(seen).toEqual([1n]);
    await sleep(400);
    expect(probe.streamClosed).toBe(true);
  });
});
