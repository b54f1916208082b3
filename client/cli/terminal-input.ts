/** What the CLI reads from; process.stdin in real use. */
export type InputStream = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };

/** Everything on stdin up to EOF, e.g. a password piped in with --password-stdin. */
export async function readAll(stdin: InputStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** The first line of stdin without its line ending: how --password-stdin reads a password. */
export async function readFirstLine(stdin: InputStream): Promise<string> {
  return (await readAll(stdin)).split(/\r?\n/)[0] ?? "";
}

/**
 * Asks for a secret on a terminal without echoing it; Ctrl-C rejects so the
 * command can exit as interrupted. Only called when stdin is a TTY.
 */
export function promptHidden(question: string, stdin: InputStream, stderr: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    stderr.write(question);
    let value = "";
    stdin.setRawMode?.(true);
    stdin.resume();
    const finish = (error?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.removeListener("data", onData);
      stderr.write("\n");
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003") return finish(new Error("interrupted"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}
