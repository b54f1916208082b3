import { describe, expect, it } from "vitest";
import { REDACTED, redactHeaders, redactJson } from "./redact.js";

describe("redactJson", () => {
  it("replaces secret fields at any depth, in proto and JSON spelling, and leaves the rest", () => {
    expect(
      redactJson({
        username: "ann",
        password: "pw",
        user: { accessToken: "t", access_token: "t2", nested: [{ token: "t3", note: "ok" }] },
        empty: { password: "" },
      }),
    ).toEqual({
      username: "ann",
      password: REDACTED,
      user: { accessToken: REDACTED, access_token: REDACTED, nested: [{ token: REDACTED, note: "ok" }] },
      empty: { password: "" },
    });
  });
});

describe("redactHeaders", () => {
  it("hides credentials but keeps the authorization scheme", () => {
    const headers = new Headers({ authorization: "Bearer abc.def.ghi", cookie: "sid=1", "x-request-id": "r1" });
    expect(redactHeaders(headers)).toEqual({ authorization: `Bearer ${REDACTED}`, cookie: REDACTED, "x-request-id": "r1" });
    expect(redactHeaders(new Headers({ authorization: "opaque" }))).toEqual({ authorization: REDACTED });
  });
});
