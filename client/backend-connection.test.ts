import net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { UserService } from "../gen/user/user_pb.js";
import { startStubServer, type StubServer } from "./test-support/stub-server.js";
import { createUserClient, type UserClient } from "./user-client.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A relay that can go silent in both directions, like a peer whose network vanished without a reset. */
async function silenceableRelay(target: number) {
  let silent = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
    }
    client.on("data", (c: Buffer) => silent || upstream.write(c));
    upstream.on("data", (c: Buffer) => silent || client.write(c));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, silence: () => (silent = true) };
}

describe("keep-alive", () => {
  it("a stream on a connection whose peer went silent fails with UNAVAILABLE once a PING goes unanswered", async () => {
    let opened = 0;
    const server: StubServer = await startStubServer((router) =>
      router.service(UserService, {
        async *subscribeChat(_req, ctx) {
          opened++;
          yield { id: 0n };
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        },
      }),
    );
    cleanups.push(() => server.kill());
    const relay = await silenceableRelay(server.port);
    const client: UserClient = createUserClient({ baseUrl: relay.url, keepalive: { pingIntervalMs: 100, pingTimeoutMs: 200 } });
    cleanups.push(() => client.close());
    const stream = client.subscribeChat({ keepalives: true })[Symbol.asyncIterator]();
    expect((await stream.next()).value?.id).toBe(0n);
    relay.silence();
    const error = await stream.next().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(error?.code).toBe(Code.Unavailable);
    expect(opened).toBe(1);
  });
});
