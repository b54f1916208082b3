/**
 * The standard grpc.health.v1.Health service over a HealthRegistry, so load
 * balancers, Kubernetes probes and grpc_health_probe can ask the server
 * whether it is serving, on any of the three protocols.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import type { HealthRegistry, ServingStatus } from "../health/health-registry.js";

/** Tuning for the Health service. */
export interface HealthServiceOptions {
  /** List fails with RESOURCE_EXHAUSTED above this many services, as the spec allows; grpc-go uses 100. */
  maxListedServices?: number;
}

/** The wire enum for each registry status; unknown services map to SERVICE_UNKNOWN only in Watch. */
const wireStatus: Readonly<Record<ServingStatus, HealthCheckResponse_ServingStatus>> = {
  UNKNOWN: HealthCheckResponse_ServingStatus.UNKNOWN,
  SERVING: HealthCheckResponse_ServingStatus.SERVING,
  NOT_SERVING: HealthCheckResponse_ServingStatus.NOT_SERVING,
};

/** Implement grpc.health.v1.Health against the given registry; mount it with router.service(Health, impl). */
export function createHealthService(
  registry: HealthRegistry,
  options: HealthServiceOptions = {},
): ServiceImpl<typeof Health> {
  const maxListed = options.maxListedServices ?? 100;
  return {
    check(request) {
      const status = registry.get(request.service);
      if (status === undefined) {
        throw new ConnectError(`unknown service ${JSON.stringify(request.service)}`, Code.NotFound);
      }
      return { status: wireStatus[status] };
    },

    async *watch(request, context) {
      for await (const status of registry.watch(request.service, context.signal)) {
        yield {
          status: status === undefined ? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN : wireStatus[status],
        };
      }
    },

    list() {
      const snapshot = registry.list();
      if (snapshot.size > maxListed) {
        throw new ConnectError(
          `server health list exceeds maximum capacity: ${maxListed}`,
          Code.ResourceExhausted,
        );
      }
      const statuses: Record<string, { status: HealthCheckResponse_ServingStatus }> = {};
      for (const [service, status] of snapshot) statuses[service] = { status: wireStatus[status] };
      return { statuses };
    },
  };
}
