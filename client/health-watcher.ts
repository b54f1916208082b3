import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { sleep } from "./sleep.js";

/** What the client believes about one backend. */
export type HealthState = "unknown" | "serving" | "not-serving" | "unreachable";

export interface HealthWatchOptions {
  /** The service name to ask about; "" is the server as a whole. */
  service: string;
  /** First pause before reconnecting after the backend could not be reached; doubles up to reconnectMaxMs. */
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  /** How often to ask with Check when the server does not implement Watch. */
  pollIntervalMs: number;
  /** Deadline of each Check. */
  checkTimeoutMs: number;
}

export const defaultHealthWatchOptions: HealthWatchOptions = {
  service: "",
  reconnectInitialMs: 250,
  reconnectMaxMs: 5_000,
  pollIntervalMs: 5_000,
  checkTimeoutMs: 2_000,
};

/** Maps the wire status; SERVICE_UNKNOWN and UNKNOWN keep a backend out of rotation like NOT_SERVING does. */
export function healthStateOf(status: HealthCheckResponse_ServingStatus): HealthState {
  return status === HealthCheckResponse_ServingStatus.SERVING ? "serving" : "not-serving";
}

/**
 * Follows one backend's health through grpc.health.v1 until the signal
 * aborts: Watch while the server offers it, Check on an interval when it does
 * not, reconnecting with backoff while the backend is unreachable. A server
 * that implements neither answers UNIMPLEMENTED, which proves it is up, so it
 * counts as serving (as gRPC's client-side health checking does).
 */
export async function watchHealth(
  transport: Transport,
  options: HealthWatchOptions,
  onState: (state: HealthState, detail: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const health = createClient(Health, transport);
  let mode: "watch" | "check" = "watch";
  let backoffMs = options.reconnectInitialMs;
  while (!signal.aborted) {
    try {
      if (mode === "watch") {
        for await (const res of health.watch({ service: options.service }, { signal })) {
          backoffMs = options.reconnectInitialMs;
          onState(healthStateOf(res.status), `Watch: ${HealthCheckResponse_ServingStatus[res.status]}`);
        }
        // The server ended the watch (e.g. while shutting down); ask again after a pause.
      } else {
        const res = await health.check({ service: options.service }, { signal, timeoutMs: options.checkTimeoutMs });
        backoffMs = options.reconnectInitialMs;
        onState(healthStateOf(res.status), `Check: ${HealthCheckResponse_ServingStatus[res.status]}`);
        await sleep(options.pollIntervalMs, signal);
        continue;
      }
    } catch (reason) {
      if (signal.aborted) return;
      const error = ConnectError.from(reason);
      if (error.code === Code.Unimplemented) {
        if (mode === "watch") {
          mode = "check";
          continue;
        }
        onState("serving", "health service not implemented; the server answers");
        await sleep(options.pollIntervalMs, signal);
        continue;
      }
      if (error.code === Code.NotFound) {
        onState("not-serving", `Check: unknown service ${JSON.stringify(options.service)}`);
      } else {
        onState("unreachable", `${Code[error.code] ?? error.code}: ${error.rawMessage}`);
      }
    }
    await sleep(backoffMs, signal);
    backoffMs = Math.min(options.reconnectMaxMs, backoffMs * 2);
  }
}
