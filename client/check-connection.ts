import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { openBackendConnection, type ConnectionOptions } from "./backend-connection.js";
import { explainError, type ErrorExplanation } from "./error-explainer.js";

/** The answer to "can I reach this server, and does it say it is serving?". */
export interface ConnectionReport {
  url: string;
  /** True when the server answered at all, even with NOT_SERVING. */
  connected: boolean;
  /** SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN, or UNIMPLEMENTED when the server has no health service. */
  status: string;
  /** Time to the answer (or the failure), including connecting. */
  latencyMs: number;
  /** Why the check failed, with suggestions. */
  error?: ErrorExplanation;
}

/**
 * Opens a fresh connection to one address and asks grpc.health.v1 Check
 * within the deadline, so a report reflects the network as it is now rather
 * than a pooled connection's past.
 */
export async function checkConnection(
  url: string,
  connection: ConnectionOptions,
  options: { timeoutMs: number; service?: string },
): Promise<ConnectionReport> {
  const backend = openBackendConnection(url, connection, []);
  const health = createClient(Health, backend.bareTransport);
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  try {
    const res = await health.check({ service: options.service ?? "" }, { timeoutMs: options.timeoutMs });
    return { url, connected: true, status: HealthCheckResponse_ServingStatus[res.status] ?? String(res.status), latencyMs: latency() };
  } catch (reason) {
    const error = ConnectError.from(reason);
    if (error.code === Code.Unimplemented) return { url, connected: true, status: "UNIMPLEMENTED", latencyMs: latency() };
    if (error.code === Code.NotFound) return { url, connected: true, status: "SERVICE_UNKNOWN", latencyMs: latency(), error: explainError(error) };
    return { url, connected: false, status: "UNREACHABLE", latencyMs: latency(), error: explainError(error) };
  } finally {
    backend.close();
  }
}
