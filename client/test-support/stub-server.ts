import http2 from "node:http2";
import type net from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

/** A real Connect/gRPC/gRPC-Web server (cleartext HTTP/2) with only the handlers a transport test needs. */
export interface StubServer {
  url: string;
  port: number;
  /** Streams opened so far, by "Service/Method" path. */
  requests: string[];
  /** Stops listening and drops every connection, as a crashed process would. */
  kill(): Promise<void>;
}

export async function startStubServer(routes: (router: ConnectRouter) => void, port = 0): Promise<StubServer> {
  const requests: string[] = [];
  const handler = connectNodeAdapter({ routes });
  const server = http2.createServer((req, res) => {
    requests.push(req.url.replace(/^\//, ""));
    handler(req, res);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    async kill() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}
