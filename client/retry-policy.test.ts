import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { AuthService } from "../gen/user/auth_pb.js";
import { UserService } from "../gen/user/user_pb.js";
import { backoffDelayMs, defaultRetryPolicy, isIdempotent, mayRetry } from "./retry-policy.js";

const policy = { ...defaultRetryPolicy, initialBackoffMs: 100, maxBackoffMs: 1_000, multiplier: 2, jitter: 0.2 };
const failure = (code: Code, notSent = false) => ({ error: new ConnectError("x", code), notSent, connectionFailed: false });

describe("backoffDelayMs", () => {
  it("doubles from the initial pause up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, policy, () => 0.5))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it("spreads each pause by the jitter fraction either way", () => {
    expect(backoffDelayMs(3, policy, () => 0)).toBe(320);
    expect(backoffDelayMs(3, policy, () => 0.999999)).toBe(480);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelayMs(2, policy);
      expect(delay).toBeGreaterThanOrEqual(160);
      expect(delay).toBeLessThanOrEqual(240);
    }
  });
});

describe("which calls may be retried", () => {
  it("knows the idempotent methods from the proto options, and the reads the proto leaves unmarked", () => {
    expect(isIdempotent(UserService.method.getUser)).toBe(true);
    expect(isIdempotent(AuthService.method.whoAmI)).toBe(true);
    expect(isIdempotent(UserService.method.listUsers)).toBe(true);
    expect(isIdempotent(UserService.method.subscribeChat)).toBe(true);
    expect(isIdempotent(Health.method.check)).toBe(true);
    const unsafe = [
      UserService.method.createUser,
      UserService.method.updateUser,
      UserService.method.deleteUser,
      UserService.method.batchCreateUsers,
      UserService.method.userChat,
      UserService.method.sendChatMessage,
      AuthService.method.login,
      AuthService.method.refreshToken,
    ];
    for (const m of unsafe) expect(isIdempotent(m)).toBe(false);
  });

  it("retries UNAVAILABLE for idempotent calls, and for any call that was never sent", () => {
    expect(mayRetry(UserService.method.getUser, failure(Code.Unavailable))).toBe(true);
    expect(mayRetry(UserService.method.createUser, failure(Code.Unavailable))).toBe(false);
    expect(mayRetry(UserService.method.createUser, failure(Code.Unavailable, true))).toBe(true);
  });

  it("never retries any other code, even for idempotent calls", () => {
    for (const code of Object.values(Code).filter((c): c is Code => typeof c === "number" && c !== Code.Unavailable)) {
      expect(mayRetry(UserService.method.getUser, failure(code, true))).toBe(false);
    }
  });
});
