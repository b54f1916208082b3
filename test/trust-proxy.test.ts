import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { clientsFor } from "./support/clients.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

/** Fails to log in as a different unknown account each time, from the address the header claims; returns the codes. */
async function failedLogins(server: TestServer, forwardedFor: string, count: number, offset: number): Promise<Array<Code | "ok">> {
  const { auth } = clientsFor("connect", server.url);
  const codes: Array<Code | "ok"> = [];
  for (let i = 0; i < count; i++) {
    try {
      await auth.login({ username: `nobody${offset + i}`, password: "wrong password" }, { headers: { "x-forwarded-for": forwardedFor } });
      codes.push("ok");
    } catch (error) {
      codes.push(error instanceof ConnectError ? error.code : Code.Unknown);
    }
  }
  return codes;
}

describe("client address behind a load balancer (TRUST_PROXY)", () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("counts login attempts per forwarded client when the peer is a trusted proxy", async () => {
    // One failure per account, so four per address (ADDRESS_FAILURE_FACTOR) before the address is throttled.
    server = await startTestServer({ env: { TRUST_PROXY: "127.0.0.1", LOGIN_MAX_FAILURES: "1" } });
    expect(await failedLogins(server, "203.0.113.7", 5, 0)).toEqual([
      Code.Unauthenticated,
      Code.Unauthenticated,
      Code.Unauthenticated,
      Code.Unauthenticated,
      Code.ResourceExhausted,
    ]);
    // Another client behind the same balancer is not held back by the first one's failures.
    expect(await failedLogins(server, "198.51.100.9", 1, 10)).toEqual([Code.Unauthenticated]);
  });

  it("ignores X-Forwarded-For from an untrusted peer, so a client cannot dodge the throttle by forging it", async () => {
    server = await startTestServer({ env: { LOGIN_MAX_FAILURES: "1" } });
    for (let i = 0; i < 4; i++) expect(await failedLogins(server, `203.0.113.${i}`, 1, i)).toEqual([Code.Unauthenticated]);
    expect(await failedLogins(server, "198.51.100.9", 1, 10)).toEqual([Code.ResourceExhausted]);
  });
});
