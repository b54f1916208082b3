import readline from "node:readline";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ChatMessage } from "../../gen/user/user_pb.js";
import type { UserClient } from "../user-client.js";
import { chatJson, chatLine } from "./output.js";
import type { InputStream } from "./terminal-input.js";

export interface ChatCommandOptions {
  toUserId: bigint;
  json: boolean;
  /** Registers what Ctrl-C should do; returns a function that unregisters it. */
  onInterrupt: (handler: () => void) => () => void;
}

/**
 * Bidirectional chat from a terminal or a pipe: each stdin line is sent,
 * every delivered message (own receipts included) is printed; at end of
 * input the session closes once the receipts have arrived. The first Ctrl-C
 * ends the session the same way, a second one cancels it.
 */
export async function runChat(client: UserClient, stdin: InputStream, stdout: NodeJS.WritableStream, options: ChatCommandOptions): Promise<void> {
  const session = client.chat();
  const print = (m: ChatMessage) => stdout.write(`${options.json ? chatJson(m) : chatLine(m)}\n`);
  const printing = (async () => {
    for await (const message of session.messages) print(message);
  })();
  printing.catch(() => undefined);
  const lines = readline.createInterface({ input: stdin, terminal: false });
  let interrupts = 0;
  const unregister = options.onInterrupt(() => {
    interrupts++;
    if (interrupts === 1) lines.close();
    else session.cancel();
  });
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      try {
        session.send(line, { toUserId: options.toUserId });
      } catch {
        break; // The call already ended; end() reports why.
      }
    }
    await session.end().catch((error: unknown) => {
      if (interrupts > 1 && ConnectError.from(error).code === Code.Canceled) return;
      throw error;
    });
    await printing.catch(() => undefined);
  } finally {
    unregister();
    lines.close();
  }
}

/** Prints the chat as it happens (SubscribeChat), history first, until Ctrl-C. */
export async function runChatListen(
  client: UserClient,
  stdout: NodeJS.WritableStream,
  options: { sinceId: bigint; historyLimit: number; json: boolean; onInterrupt: ChatCommandOptions["onInterrupt"] },
): Promise<void> {
  const controller = new AbortController();
  const unregister = options.onInterrupt(() => controller.abort());
  try {
    for await (const m of client.subscribeChat({ sinceId: options.sinceId, historyLimit: options.historyLimit, signal: controller.signal })) {
      stdout.write(`${options.json ? chatJson(m) : chatLine(m)}\n`);
    }
  } catch (error) {
    if (!(controller.signal.aborted && ConnectError.from(error).code === Code.Canceled)) throw error;
  } finally {
    unregister();
  }
}
