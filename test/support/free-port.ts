import net from "node:net";

/** True when something can listen on the port right now. */
function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port that was free a moment ago, for a server that must come back on
 * the same port after a restart. It is picked below Linux's ephemeral range
 * (32768+), so the kernel does not hand it to another process's PORT 0
 * listener or outgoing connection while the server is down.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port, host)) return port;
  }
  throw new Error("no free port found between 20000 and 32000");
}
