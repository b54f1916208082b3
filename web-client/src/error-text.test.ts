import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientsFor, loginToken } from "../../test/support/clients.js";
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from "../../test/support/test-server.js";
import { errorText } from "./error-text.js";

/** The error a real call fails with. */
async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (error) {
    return error;
  }
  throw new Error("the call succeeded");
}

describe("errorText on errors from a real server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it("names every invalid field from common.ValidationError", async () => {
    const { users } = clientsFor("connect", server.url);
    const text = errorText(await failure(users.createUser({ username: "ok_name", email: "not-an-email", password: "short" })));
    expect(text.code).toBe(Code.InvalidArgument);
    expect(text.fields.get("email")).toBe("is not a valid email address");
    expect(text.fields.get("password")).toBe("must be at least 8 bytes");
    expect(text.fields.has("username")).toBe(false);
    expect(text.message).toBe("Please check: email is not a valid email address; password must be at least 8 bytes.");
  });

  it("uses the server's sentence for business errors and a plain one for a wrong password", async () => {
    const token = await loginToken(server.url, "admin", TEST_ADMIN_PASSWORD);
    const admin = clientsFor("connect", server.url, { token });
    await admin.users.createUser({ username: "taken", email: "taken@example.test", password: "taken-password" });
    const taken = errorText(await failure(admin.users.createUser({ username: "taken", email: "other@example.test", password: "taken-password" })));
    expect(taken.code).toBe(Code.AlreadyExists);
    expect(taken.fields.get("username")).toBe("username already exists");
    expect(taken.message).toBe("Please check: username already exists.");

    const denied = errorText(await failure(clientsFor("connect", server.url).auth.login({ username: "admin", password: "wrong-password" })));
    expect(denied).toEqual({ code: Code.Unauthenticated, fields: new Map(), message: "Invalid username or password." });
  });

  it("replaces transport-level text with advice, and passes other errors through", () => {
    expect(errorText(new ConnectError("fetch failed", Code.Unavailable)).message).toBe("The server cannot be reached right now. Try again in a moment.");
    expect(errorText(new Error("boom")).message).toBe("boom");
    expect(errorText("odd").message).toBe("odd");
  });
});
