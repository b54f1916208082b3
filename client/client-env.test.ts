import { describe, expect, it } from "vitest";
import { readClientEnv } from "./client-env.js";

describe("readClientEnv", () => {
  it("has defaults for an empty environment", () => {
    expect(readClientEnv({})).toEqual({
      urls: ["http://localhost:50051"],
      token: undefined,
      username: undefined,
      password: undefined,
      protocol: "grpc",
      debug: false,
      timeoutMs: undefined,
    });
  });

  it("reads every USERS_* variable", () => {
    expect(
      readClientEnv({
        USERS_URL: "http://a:1, http://b:2",
        USERS_TOKEN: "t",
        USERS_USERNAME: "ann",
        USERS_PASSWORD: " spaced pw ",
        USERS_PROTOCOL: "grpc-web",
        USERS_TIMEOUT_MS: "2500",
        USERS_DEBUG: "1",
      }),
    ).toEqual({ urls: ["http://a:1", "http://b:2"], token: "t", username: "ann", password: " spaced pw ", protocol: "grpc-web", debug: true, timeoutMs: 2500 });
  });

  it("names the variable when a value is malformed", () => {
    expect(() => readClientEnv({ USERS_PROTOCOL: "smtp" })).toThrow(/^USERS_PROTOCOL: unknown protocol "smtp"/);
    expect(() => readClientEnv({ USERS_TIMEOUT_MS: "5s" })).toThrow(/USERS_TIMEOUT_MS must be a whole number/);
  });
});
