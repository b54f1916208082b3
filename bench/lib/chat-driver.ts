/**
 * How each target does chat, behind one shape: the project subscribes with
 * SubscribeChat and broadcasts with SendChatMessage; the seed-style grpc-js
 * baseline has only UserChat, where an idle bidi stream is a subscriber and
 * one more session broadcasts by writing to its stream.
 */
import http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ChatMessageSchema,
  SendChatMessageRequestSchema,
  SendChatMessageResponseSchema,
  SubscribeChatRequestSchema,
} from "../../gen/user/user_pb.js";
import { FrameReader, frameMessage } from "./grpc-frame.js";
import { expectOk, GrpcH2Client } from "./grpc-h2-client.js";
import type { FleetStreamSpec } from "./stream-fleet.js";
import type { Target } from "./types.js";

export interface ChatDriver {
  /** Path, request and tokens for subscriber streams opened now (the project's start after the last message sent). */
  subscription(): Omit<FleetStreamSpec, "onMessage">;
  /** Broadcasts one message to everyone; resolves once the server has it (the project's reply, or the bidi write flushed). */
  send(content: string): Promise<void>;
  close(): Promise<void>;
}

/** The content and id of a received chat message; id 0 is the project's keep-alive. */
export function decodeChat(message: Buffer): { id: bigint; content: string } {
  const m = fromBinary(ChatMessageSchema, message);
  return { id: m.id, content: m.content };
}

/** Fetches one token per user (subscriber i acts as user i mod users + 1), so streams open without waiting on logins. */
async function userTokens(target: Target, users: number): Promise<string[]> {
  const tokens: string[] = [];
  // A few at a time: each project login is a bcrypt check in the server's pool.
  for (let at = 1; at <= users; at += 8) {
    const batch = Array.from({ length: Math.min(8, users - at + 1) }, (_, k) => target.tokenFor(at + k));
    tokens.push(...(await Promise.all(batch)));
  }
  return tokens;
}

const SEND_CHAT = "/user.UserService/SendChatMessage";

async function projectDriver(target: Target, tokens: string[]): Promise<ChatDriver> {
  const client = new GrpcH2Client(target.baseUrl);
  let lastId = 0n;
  const send = async (content: string) => {
    const result = expectOk(SEND_CHAT, await client.call(SEND_CHAT, [toBinary(SendChatMessageRequestSchema, create(SendChatMessageRequestSchema, { content }))], {
      headers: { authorization: `Bearer ${target.token}` },
      timeoutMs: 30_000,
    }));
    const reply = fromBinary(SendChatMessageResponseSchema, result.messages[0] ?? new Uint8Array());
    if (!reply.message || reply.message.id <= lastId) throw new Error(`SendChatMessage returned id ${reply.message?.id}, expected one above ${lastId}`);
    lastId = reply.message.id;
  };
  // Also the probe: the server must store a broadcast and hand back its id.
  await send("bench: chat driver ready");
  return {
    subscription: () => ({
      path: "/user.UserService/SubscribeChat",
      // Start after the newest message, so no history is replayed into the figures.
      request: toBinary(SubscribeChatRequestSchema, create(SubscribeChatRequestSchema, { sinceId: lastId })),
      tokenFor: (i) => tokens[i % tokens.length]!,
    }),
    send,
    close: () => client.close(),
  };
}

/** Opens the broadcasting UserChat session and checks that the server echoes to it, as the seed does. */
async function grpcJsDriver(target: Target, tokens: string[]): Promise<ChatDriver> {
  const session = http2.connect(target.baseUrl);
  session.on("error", () => {});
  const stream = session.request(
    { ":method": "POST", ":path": "/user.UserService/UserChat", "content-type": "application/grpc", te: "trailers", authorization: `Bearer ${target.token}` },
    { endStream: false },
  );
  stream.on("error", () => {});
  const reader = new FrameReader();
  let echoed: ((content: string) => void) | undefined;
  stream.on("data", (chunk: Buffer) => reader.push(chunk, (m) => echoed?.(decodeChat(m).content)));
  const write = (content: string) =>
    new Promise<void>((resolve, reject) => {
      if (stream.closed) return reject(new Error("the broadcasting UserChat stream is closed"));
      stream.write(frameMessage(toBinary(ChatMessageSchema, create(ChatMessageSchema, { content }))), (err) => (err ? reject(err) : resolve()));
    });
  const probe = "bench: chat driver ready";
  const gotEcho = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("UserChat sent no echo within 10 s")), 10_000);
    echoed = (content) => {
      if (content !== `Echo: ${probe}`) return;
      clearTimeout(timer);
      resolve();
    };
    stream.once("close", () => reject(new Error(`UserChat closed before echoing (rst ${stream.rstCode})`)));
  });
  try {
    await write(probe);
    await gotEcho;
  } catch (err) {
    session.destroy();
    throw err;
  }
  echoed = undefined;
  return {
    subscription: () => ({ path: "/user.UserService/UserChat", tokenFor: (i) => tokens[i % tokens.length]! }),
    send: write,
    async close() {
      if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      session.destroy();
    },
  };
}

/** The chat driver for a target, with `users` distinct subscriber identities. */
export async function chatDriver(target: Target, users: number): Promise<ChatDriver> {
  await target.freshToken();
  const tokens = await userTokens(target, Math.max(1, users));
  if (target.name === "project") return projectDriver(target, tokens);
  if (target.name === "grpc-js") return grpcJsDriver(target, tokens);
  throw new Error(`${target.name} has no chat`);
}
