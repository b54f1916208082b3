/**
 * The Prometheus metrics of one app, in a registry of its own so that several
 * apps in one process (tests) never share or double-register a metric.
 * Names and labels follow go-grpc-prometheus, so existing gRPC dashboards work.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";

/** Labels every per-method metric carries, as go-grpc-prometheus names them. */
export type MethodLabels = "grpc_type" | "grpc_service" | "grpc_method";

/** Bucket bounds of grpc_server_handling_seconds: prometheus.DefBuckets, which go-grpc-prometheus uses. */
export const handlingBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/**
 * The figures of one method, kept as plain numbers: prom-client validates and
 * hashes a label set on every inc() and observe(), which showed up in every
 * call's profile; the Prometheus metrics read these at scrape time instead.
 */
export interface MethodRecord {
  readonly labels: Readonly<Record<MethodLabels, string>>;
  started: number;
  received: number;
  sent: number;
  openStreams: number;
  /** Completed calls by grpc_code name. */
  readonly handled: Map<string, number>;
  /** Calls per handlingBuckets bound (not cumulative), plus one for +Inf. */
  readonly buckets: Float64Array;
  seconds: number;
  count: number;
}

/** Records a completed call's duration into its method's histogram. */
export function observeSeconds(record: MethodRecord, seconds: number): void {
  let i = 0;
  while (i < handlingBuckets.length && seconds > (handlingBuckets[i] as number)) i++;
  (record.buckets as Float64Array)[i] = ((record.buckets as Float64Array)[i] ?? 0) + 1;
  record.seconds += seconds;
  record.count += 1;
}

/** The metrics of one app: per-method records, written to Prometheus at scrape time. */
export interface ServerMetrics {
  registry: Registry;
  /** The record of a method, created on first use. */
  method(labels: Record<MethodLabels, string>): MethodRecord;
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
  const records = new Map<string, MethodRecord>();
  const method = (labels: Record<MethodLabels, string>): MethodRecord => {
    const key = `${labels.grpc_type}|${labels.grpc_service}|${labels.grpc_method}`;
    let record = records.get(key);
    if (record === undefined) {
      record = {
        labels: Object.freeze({ ...labels }),
        started: 0,
        received: 0,
        sent: 0,
        openStreams: 0,
        handled: new Map(),
        buckets: new Float64Array(handlingBuckets.length + 1),
        seconds: 0,
        count: 0,
      };
      records.set(key, record);
    }
    return record;
  };
  /** A counter or gauge whose values are copied from the records when Prometheus scrapes. */
  const fromRecords = (kind: "counter" | "gauge", name: string, help: string, read: (r: MethodRecord) => number) => {
    const Metric = kind === "counter" ? Counter : Gauge;
    new Metric({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: Counter<MethodLabels> | Gauge<MethodLabels>) {
        this.reset();
        for (const r of records.values()) {
          if (kind === "counter") (this as Counter<MethodLabels>).inc(r.labels, read(r));
          else (this as Gauge<MethodLabels>).set(r.labels, read(r));
        }
      },
    });
  };
  fromRecords("counter", "grpc_server_started_total", "Total number of RPCs started on the server.", (r) => r.started);
  new Counter({
    name: "grpc_server_handled_total",
    help: "Total number of RPCs completed on the server, regardless of success or failure.",
    labelNames: [...labelNames, "grpc_code"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const r of records.values()) for (const [code, n] of r.handled) this.inc({ ...r.labels, grpc_code: code }, n);
    },
  });
  fromRecords("counter", "grpc_server_msg_received_total", "Total number of RPC stream messages received on the server.", (r) => r.received);
  fromRecords("counter", "grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.", (r) => r.sent);
  fromRecords("gauge", "grpc_server_open_streams", "Streaming RPCs currently open on the server.", (r) => r.openStreams);
  const histogramName = "grpc_server_handling_seconds";
  const histogramHelp = "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.";
  registry.registerMetric({
    name: histogramName,
    help: histogramHelp,
    type: "histogram",
    reset() {},
    async get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const r of records.values()) {
        let cumulative = 0;
        handlingBuckets.forEach((bound, i) => {
          cumulative += r.buckets[i] ?? 0;
          values.push({ labels: { ...r.labels, le: bound }, value: cumulative, metricName: `${histogramName}_bucket` });
        });
        values.push({ labels: { ...r.labels, le: "+Inf" }, value: r.count, metricName: `${histogramName}_bucket` });
        values.push({ labels: { ...r.labels }, value: r.seconds, metricName: `${histogramName}_sum` });
        values.push({ labels: { ...r.labels }, value: r.count, metricName: `${histogramName}_count` });
      }
      return { name: histogramName, help: histogramHelp, type: "histogram", values, aggregator: "sum" };
    },
  } as never);
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
  return { registry, method };
}
