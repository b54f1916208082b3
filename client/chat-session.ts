import { create } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { ChatMessageSchema, MessageType, type ChatMessage, type UserService } from "../gen/user/user_pb.js";
import { createAsyncQueue } from "./async-queue.js";

export interface ChatSendOptions {
  /** A direct message to this user; everyone when omitted. */
  toUserId?: bigint | number;
  type?: MessageType;
}

/** An open UserChat stream: what you send comes back on `messages` as the server's receipt. */
export interface ChatSession {
  /** Queues one message for sending. */
  send(content: string, options?: ChatSendOptions): void;
  /** Every message delivered to this session, in order, until the session ends. */
  readonly messages: AsyncIterable<ChatMessage>;
  /** Stops sending; resolves once the server has delivered the receipts and closed, rejects with the call's error. */
  end(): Promise<void>;
  /** Closes the stream at once, without waiting for receipts. */
  cancel(): void;
}

/**
 * Opens the bidirectional chat. Responses are read from the start, so the
 * stream keeps flowing (and end() can finish) even before anyone iterates
 * `messages`.
 */
export function openChatSession(users: Client<typeof UserService>, options: { signal?: AbortSignal } = {}): ChatSession {
  const outgoing = createAsyncQueue<ChatMessage>();
  const incoming = createAsyncQueue<ChatMessage>();
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  let failure: unknown;
  const pump = (async () => {
    try {
      for await (const message of users.userChat(outgoing, { signal: controller.signal })) incoming.push(message);
    } catch (error) {
      failure = error;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      if (!outgoing.ended) outgoing.end();
      incoming.end();
    }
  })();
  return {
    send(content, sendOptions = {}) {
      outgoing.push(
        create(ChatMessageSchema, {
          content,
          toUserId: BigInt(sendOptions.toUserId ?? 0),
          type: sendOptions.type ?? MessageType.TEXT,
        }),
      );
    },
    messages: {
      async *[Symbol.asyncIterator]() {
        yield* incoming;
        await pump;
        if (failure !== undefined) throw failure;
      },
    },
    async end() {
      if (!outgoing.ended) outgoing.end();
      await pump;
      if (failure !== undefined) throw failure;
    },
    cancel() {
      controller.abort();
    },
  };
}
