import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createOnePortServer, type OnePortOptions, type OnePortServer } from "./one-port-server.js";

const open: OnePortServer[] = [];

type Handler = Parameters<typeof createOnePortServer>[1];

const versionHandler: Handler = (req, res) => {
  res.setHeader("content-type", "text/plain");
  res.end(`HTTP/${req.httpVersion}`);
};

/** Reads one chunk of the body and answers, leaving the rest unread, as Connect does with a message over readMaxBytes. */
const earlyAnswer: Handler = (req, res) => {
  void (async () => {
    for await (const _chunk of req as AsyncIterable<Buffer>) break;
    res.writeHead(413, { "content-type": "text/plain" });
    res.end("too large");
  })();
};

async function start(options: OnePortOptions = {}, handler: Handler = versionHandler): Promise<{ server: OnePortServer; port: number }> {
  const server = createOnePortServer(options, handler);
  open.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

afterEach(async () => {
  for (const server of open.splice(0)) {
    server.destroyAll();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Resolves with the milliseconds until the socket closed and everything it received. */
function untilClosed(socket: net.Socket): Promise<{ afterMs: number; received: string }> {
  const started = Date.now();
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => {});
  return new Promise((resolve) => socket.once("close", () => resolve({ afterMs: Date.now() - started, received })));
}

function h2Get(port: number): Promise<{ body: string; session: http2.ClientHttp2Session }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": "/" });
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve({ body, session }));
    stream.on("error", reject);
  });
}

describe("one-port server, cleartext", () => {
  it("serves HTTP/1.1 and HTTP/2 with prior knowledge on the same port", async () => {
    const { port } = await start();
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe("HTTP/1.1");
    const { body, session } = await h2Get(port);
    expect(body).toBe("HTTP/2.0");
    session.close();
  });

  it("advertises HTTP/2 limits in line with grpc-go and Envoy", async () => {
    const { port } = await start();
    const { session } = await h2Get(port);
    expect(session.remoteSettings.maxConcurrentStreams).toBe(100);
    expect(session.remoteSettings.maxHeaderListSize).toBe(64 * 1024);
    session.close();
  });

  it("closes an HTTP/1.1 connection that trickles its headers (slowloris) once the header timeout passes", async () => {
    const { port } = await start({ headersTimeoutMs: 500 });
    const socket = net.connect(port, "127.0.0.1");
    const closed = untilClosed(socket);
    socket.write("GET / HTTP/1.1\r\nHost: x\r\n");
    const trickle = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 100);
    const { received } = await closed;
    clearInterval(trickle);
    expect(received).toMatch(/^HTTP\/1\.1 408 Request Timeout/);
  });

  it("closes a connection that sends nothing before the first-bytes timeout", async () => {
    const { port } = await start({ handshakeTimeoutMs: 300 });
    const socket = net.connect(port, "127.0.0.1");
    const { received } = await untilClosed(socket);
    expect(received).toBe("");
  });

  it("closes a connection that sends only part of the HTTP/2 preface", async () => {
    const { port } = await start({ handshakeTimeoutMs: 300 });
    const socket = net.connect(port, "127.0.0.1");
    const closed = untilClosed(socket);
    socket.write("PRI * HTTP/2.0\r\n");
    expect((await closed).received).toBe("");
  });

  it("refuses an HTTP/1.1 header block over the limit with 431 and keeps serving", async () => {
    const { port } = await start({ maxHeaderListSize: 8 * 1024 });
    const socket = net.connect(port, "127.0.0.1");
    const closed = untilClosed(socket);
    socket.write(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(16 * 1024)}\r\n\r\n`);
    expect((await closed).received).toMatch(/^HTTP\/1\.1 431 /);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe("HTTP/1.1");
  });

  it("sends GOAWAY to an HTTP/2 session that stays idle past the idle timeout", async () => {
    const { server, port } = await start({ idleSessionTimeoutMs: 300 });
    const { session } = await h2Get(port);
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code: number) => resolve(code)));
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await new Promise((resolve) => session.once("close", resolve));
    expect(server.connectionCount().http2).toBe(0);
  });

  it("measures the idle spell from the last stream, so a session used now and then stays open", async () => {
    const { port } = await start({ idleSessionTimeoutMs: 400 });
    const { session } = await h2Get(port);
    let goawayAt: number | undefined;
    session.once("goaway", () => (goawayAt = Date.now()));
    // A stream every 250 ms: never 400 ms without one, although the session is older than that.
    let lastStreamAt = Date.now();
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      await new Promise<void>((resolve, reject) => {
        const stream = session.request({ ":path": "/" });
        stream.resume();
        stream.on("end", resolve);
        stream.on("error", reject);
      });
      lastStreamAt = Date.now();
    }
    expect(goawayAt).toBeUndefined();
    await new Promise((resolve) => session.once("close", resolve));
    // Then it goes idle for good and is closed about one timeout after its last stream.
    expect(goawayAt! - lastStreamAt).toBeGreaterThanOrEqual(350);
  });

  it("drain() closes idle keep-alive HTTP/1.1 connections and sends GOAWAY to HTTP/2 sessions", async () => {
    const { server, port } = await start({ keepAliveTimeoutMs: 60_000 });
    const agent = new http.Agent({ keepAlive: true });
    // Wrapped in an object: resolving with a bare promise would wait for it.
    const socketClosed = await new Promise<{ closed: Promise<void> }>((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
        res.resume();
        res.on("end", () => resolve({ closed }));
      });
      let closed: Promise<void>;
      req.on("socket", (socket) => (closed = new Promise((done) => socket.once("close", () => done()))));
      req.on("error", reject);
    });
    const { session } = await h2Get(port);
    const goaway = new Promise((resolve) => session.once("goaway", resolve));
    expect(server.connectionCount()).toEqual({ http1: 1, http2: 1 });
    server.drain();
    await socketClosed.closed;
    await goaway;
    agent.destroy();
  });

  it("answers an HTTP/1.1 upload refused mid-body with Connection: close, so the next request is not stuck behind its rest", async () => {
    const { port } = await start({}, (req, res) => (req.url === "/upload" ? earlyAnswer(req, res) : versionHandler(req, res)));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port, path: "/upload", method: "POST", agent, headers: { "content-length": String(8 * 1024 * 1024) } }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
      });
      req.on("error", () => {});
      req.write(Buffer.alloc(8 * 1024 * 1024));
      req.end();
      setTimeout(() => reject(new Error("no answer")), 5000).unref();
    });
    expect(first).toEqual({ status: 413, connection: "close", body: "too large" });
    // Same agent, one socket at most: a stuck connection would hang this.
    const second = await new Promise<string>((resolve, reject) => {
      http.get({ host: "127.0.0.1", port, path: "/", agent }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => resolve(body));
      }).on("error", reject);
    });
    expect(second).toBe("HTTP/1.1");
    agent.destroy();
  });

  it("resets an HTTP/2 stream answered while the client still uploads with NO_ERROR, so it cannot hold up shutdown", async () => {
    const { server, port } = await start({}, earlyAnswer);
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    const outcome = await new Promise<{ status: number; body: string; rstCode: number | undefined }>((resolve) => {
      const stream = session.request({ ":method": "POST", ":path": "/" });
      let status = 0;
      let body = "";
      stream.on("error", () => {});
      stream.on("response", (h) => (status = Number(h[":status"])));
      stream.setEncoding("utf8");
      stream.on("data", (c: string) => (body += c));
      stream.on("close", () => resolve({ status, body, rstCode: stream.rstCode }));
      stream.write(Buffer.alloc(5 * 1024 * 1024));
    });
    expect(outcome).toEqual({ status: 413, body: "too large", rstCode: http2.constants.NGHTTP2_NO_ERROR });
    // The client keeps its session open; drain must still let the server close.
    server.drain();
    await new Promise<void>((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      setTimeout(() => reject(new Error("close is held up")), 3000).unref();
    });
    session.destroy();
  });

  it("survives a client that resets a stream with an error, whichever path serves the stream", async () => {
    // A stand-in for a path that serves raw streams and adds no error listener of its own.
    const rawPath = {
      procedures: ["/raw"],
      served: 0,
      handle(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
        if (headers[":path"] !== "/raw") return false;
        stream.respond({ ":status": 200 });
        const tick = setInterval(() => (stream.writable ? stream.write("x") : clearInterval(tick)), 10);
        stream.once("close", () => clearInterval(tick));
        return true;
      },
    };
    const { port } = await start({ fastPath: rawPath });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", () => {});
    const stream = session.request({ ":path": "/raw" });
    stream.on("error", () => {});
    await new Promise((resolve) => stream.once("data", resolve));
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    await new Promise((resolve) => stream.once("close", resolve));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { body } = await h2Get(port);
    expect(body).toBe("HTTP/2.0");
    session.destroy();
  });

  describe("a client that stops reading", () => {
    /** Writes 64 KiB chunks for as long as the response takes them, and reports how its writing ended. */
    function firehose(ended: (how: string) => void): Handler {
      return (_req, res) => {
        const chunk = Buffer.alloc(64 * 1024, 0x62);
        res.on("close", () => ended(res.writableFinished ? "finished" : "cut off"));
        const pump = () => {
          while ((res as http.ServerResponse).write(chunk)) {
            // keep writing until the client's window and the buffers are full
          }
          res.once("drain", pump);
        };
        pump();
      };
    }

    it("has its HTTP/2 stream reset with CANCEL once the server's writes have waited too long", async () => {
      let how = "";
      const { port } = await start({ stalledWriteTimeoutMs: 300 }, firehose((h) => (how = h)));
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
      const stream = session.request({ ":path": "/" });
      stream.on("error", () => {});
      stream.pause();
      const rstCode = await new Promise<number | undefined>((resolve) => stream.once("close", () => resolve(stream.rstCode)));
      expect(rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      await eventuallyTrue(() => how === "cut off");
      session.destroy();
    });

    it("has its HTTP/1.1 connection closed once the server's writes have waited too long", async () => {
      let how = "";
      const { port } = await start({ stalledWriteTimeoutMs: 300 }, firehose((h) => (how = h)));
      const socket = net.connect(port, "127.0.0.1");
      socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      socket.pause();
      socket.on("error", () => {});
      // A paused client does not notice; the server's side shows the cut.
      await eventuallyTrue(() => how === "cut off");
      socket.destroy();
    });

    it("is left alone while it keeps reading, however slowly", async () => {
      let how = "";
      const { server, port } = await start({ stalledWriteTimeoutMs: 300 }, (_req, res) => {
        res.on("close", () => (how = res.writableFinished ? "finished" : "cut off"));
        let sent = 0;
        const pump = () => {
          while (sent < 40) {
            sent++;
            if (!(res as http.ServerResponse).write(Buffer.alloc(64 * 1024))) return void res.once("drain", pump);
          }
          res.end();
        };
        pump();
      });
      const session = http2.connect(`http://127.0.0.1:${port}`);
      const stream = session.request({ ":path": "/" });
      let received = 0;
      // Reads 64 KiB every 100 ms: slow, but never stalled for 300 ms.
      stream.pause();
      const reader = setInterval(() => {
        let chunk: Buffer | null;
        let got = 0;
        while (got < 64 * 1024 && (chunk = stream.read() as Buffer | null) !== null) got += chunk.length;
        received += got;
      }, 100);
      await new Promise((resolve) => stream.once("end", resolve));
      clearInterval(reader);
      expect(received).toBe(40 * 64 * 1024);
      expect(how).toBe("finished");
      session.close();
      expect(server.connectionCount().http2).toBeLessThanOrEqual(1);
    });
  });
});

async function eventuallyTrue(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
