/**
 * The Prometheus metrics of one app, in a registry of its own so that several
 * apps in one process (tests) never share or double-register a metric.
 * Names and labels follow go-grpc-prometheus, so existing gRPC dashboards work.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Labels every per-method metric carries, as go-grpc-prometheus names them. */
export type MethodLabels = "grpc_type" | "grpc_service" | "grpc_method";

/** The metric objects interceptors and gauges update. */
export interface ServerMetrics {
  registry: Registry;
  started: Counter<MethodLabels>;
  handled: Counter<MethodLabels | "grpc_code">;
  received: Counter<MethodLabels>;
  sent: Counter<MethodLabels>;
  handlingSeconds: Histogram<MethodLabels>;
  openStreams: Gauge<MethodLabels>;
}

export interface ServerMetricsOptions {
  /** Live chat subscribers, read at scrape time. */
  chatSubscribers?: () => number;
  /** Open connections by HTTP version, read at scrape time. */
  connections?: () => { http1: number; http2: number };
  /** Adds Node's process metrics (CPU, memory, event loop lag, GC). */
  processMetrics?: boolean;
}

/** Creates the registry and every metric in it. */
export function createServerMetrics(options: ServerMetricsOptions = {}): ServerMetrics {
  const registry = new Registry();
  const labelNames = ["grpc_type", "grpc_service", "grpc_method"] as const;
  const started = new Counter({
    name: "grpc_server_started_total",
    help: "Total number of RPCs started on the server.",
    labelNames,
    registers: [registry],
  });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "Total number of RPCs completed on the server, regardless of success or failure.",
    labelNames: [...labelNames, "grpc_code"] as const,
    registers: [registry],
  });
  const received = new Counter({
    name: "grpc_server_msg_received_total",
    help: "Total number of RPC stream messages received on the server.",
    labelNames,
    registers: [registry],
  });
  const sent = new Counter({
    name: "grpc_server_msg_sent_total",
    help: "Total number of gRPC stream messages sent by the server.",
    labelNames,
    registers: [registry],
  });
  const handlingSeconds = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
    labelNames,
    // prometheus.DefBuckets, which go-grpc-prometheus uses.
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const openStreams = new Gauge({
    name: "grpc_server_open_streams",
    help: "Streaming RPCs currently open on the server.",
    labelNames,
    registers: [registry],
  });
  const { chatSubscribers, connections } = options;
  if (chatSubscribers !== undefined) {
    new Gauge({
      name: "users_chat_subscribers",
      help: "SubscribeChat and UserChat streams currently receiving messages on this instance.",
      registers: [registry],
      collect() {
        this.set(chatSubscribers());
      },
    });
  }
  if (connections !== undefined) {
    new Gauge({
      name: "users_open_connections",
      help: "Client connections currently open, by HTTP version.",
      labelNames: ["http_version"] as const,
      registers: [registry],
      collect() {
        const counts = connections();
        this.set({ http_version: "1.1" }, counts.http1);
        this.set({ http_version: "2" }, counts.http2);
      },
    });
  }
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return { registry, started, handled, received, sent, handlingSeconds, openStreams };
}
