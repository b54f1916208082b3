/**
 * Ceiling: a bare node:http2 (h2c) server answering GetUser with a prebuilt
 * gRPC response and grpc-status 0 trailers — no auth, no lookup, no encoding —
 * to show the most this machine's Node can do per request.
 */
import http2 from "node:http2";
import { frameMessage } from "../lib/grpc-frame.js";
import { probeUserIndex, seedUser } from "../lib/seed-data.js";
import { getUserResponseBytes, seedUserMessage } from "../lib/user-messages.js";
import { announceReady, exitOnSignal, readBaselineEnv } from "./baseline-env.js";

const GET_USER_PATH = "/user.UserService/GetUser";

const env = readBaselineEnv("raw-http2-ceiling");
const index = probeUserIndex(env.users);
const body = frameMessage(getUserResponseBytes(seedUserMessage(seedUser(index), BigInt(index), BigInt(Date.now()))));

const okHeaders = { ":status": 200, "content-type": "application/grpc" };
const okTrailers = { "grpc-status": "0" };

const server = http2.createServer();
server.on("stream", (stream, headers) => {
  if (headers[":path"] !== GET_USER_PATH) {
    stream.respond({ ...okHeaders, "grpc-status": "12", "grpc-message": "unimplemented" }, { endStream: true });
    return;
  }
  // Answer once the request is fully read, as any real unary handler must.
  stream.on("data", () => {});
  stream.once("end", () => {
    if (stream.destroyed) return;
    stream.respond(okHeaders, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers(okTrailers));
    stream.end(body);
  });
  stream.on("error", () => {});
});
server.on("sessionError", () => {});

server.listen(env.port, env.host, () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : env.port;
  exitOnSignal(() => new Promise<void>((resolve) => server.close(() => resolve())));
  announceReady("raw-http2-ceiling", port, `userId=${index}`);
});
