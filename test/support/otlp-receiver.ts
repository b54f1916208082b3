import http from "node:http";
import type { AddressInfo } from "node:net";

/** One span as an OTLP collector would receive it. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 2 SERVER, 3 CLIENT. */
  kind: number;
  /** String and int attributes, as strings. */
  attributes: Record<string, string>;
  /** Status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  serviceName: string;
}

export interface OtlpReceiver {
  /** The base URL to put in OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Request paths and content types seen, to check the exporter speaks OTLP/HTTP protobuf. */
  requests: { path: string; contentType: string }[];
  /** Resolves when a span matching the predicate has arrived. */
  waitFor(predicate: (span: ReceivedSpan) => boolean, timeoutMs?: number): Promise<ReceivedSpan>;
  close(): Promise<void>;
}

type Field = { number: number; wire: number; value: bigint | Uint8Array };

/** Splits one protobuf message into its fields; enough of the wire format for OTLP. */
function fields(bytes: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[pos++];
      if (b === undefined) throw new Error("truncated varint");
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < bytes.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ number, wire, value: varint() });
    else if (wire === 1) {
      out.push({ number, wire, value: bytes.subarray(pos, pos + 8) });
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ number, wire, value: bytes.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 5) {
      out.push({ number, wire, value: bytes.subarray(pos, pos + 4) });
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const text = (v: Field["value"]) => Buffer.from(v as Uint8Array).toString("utf8");
const hex = (v: Field["value"]) => Buffer.from(v as Uint8Array).toString("hex");

/** KeyValue { key = 1; AnyValue value = 2 { string = 1; bool = 2; int = 3 } } */
function attribute(bytes: Uint8Array): [string, string] {
  let key = "";
  let value = "";
  for (const f of fields(bytes)) {
    if (f.number === 1) key = text(f.value);
    if (f.number === 2) {
      for (const v of fields(f.value as Uint8Array)) {
        if (v.number === 1) value = text(v.value);
        else if (v.wire === 0) value = String(v.value);
      }
    }
  }
  return [key, value];
}

/** ExportTraceServiceRequest → ResourceSpans(1) → Resource(1) / ScopeSpans(2) → Span(2). */
export function decodeExportRequest(body: Uint8Array): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of fields(body).filter((f) => f.number === 1)) {
    let serviceName = "";
    const parts = fields(rs.value as Uint8Array);
    for (const resource of parts.filter((f) => f.number === 1)) {
      for (const attr of fields(resource.value as Uint8Array).filter((f) => f.number === 1)) {
        const [k, v] = attribute(attr.value as Uint8Array);
        if (k === "service.name") serviceName = v;
      }
    }
    for (const ss of parts.filter((f) => f.number === 2)) {
      for (const sp of fields(ss.value as Uint8Array).filter((f) => f.number === 2)) {
        const span: ReceivedSpan = { traceId: "", spanId: "", parentSpanId: "", name: "", kind: 0, attributes: {}, statusCode: 0, serviceName };
        for (const f of fields(sp.value as Uint8Array)) {
          if (f.number === 1) span.traceId = hex(f.value);
          else if (f.number === 2) span.spanId = hex(f.value);
          else if (f.number === 4) span.parentSpanId = hex(f.value);
          else if (f.number === 5) span.name = text(f.value);
          else if (f.number === 6) span.kind = Number(f.value);
          else if (f.number === 9) {
            const [k, v] = attribute(f.value as Uint8Array);
            span.attributes[k] = v;
          } else if (f.number === 15) {
            for (const s of fields(f.value as Uint8Array)) if (s.number === 3) span.statusCode = Number(s.value);
          }
        }
        spans.push(span);
      }
    }
  }
  return spans;
}

/** A tiny OTLP/HTTP collector: accepts POST /v1/traces (protobuf) and keeps the decoded spans. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: { path: string; contentType: string }[] = [];
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ path: req.url ?? "", contentType: req.headers["content-type"] ?? "" });
      if (req.method === "POST" && req.url === "/v1/traces") {
        spans.push(...decodeExportRequest(Buffer.concat(chunks)));
        for (const w of waiters) w();
      }
      // An empty ExportTraceServiceResponse.
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    waitFor(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = spans.find(predicate);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching span within ${timeoutMs} ms; got ${spans.map((s) => s.name).join(", ") || "none"}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
