/**
 * The workload registry: the one list run.ts walks. Add a workload by writing
 * a module that exports a Workload and appending it here (or replacing its
 * placeholder in planned.ts).
 */
import type { Workload } from "../lib/types.js";
import { connectGetUser } from "./connect-get-user.js";
import { grpcGetUser } from "./grpc-get-user.js";
import { listUsersStream } from "./list-users-stream.js";
import { plannedWorkloads } from "./planned.js";

export const workloads: readonly Workload[] = [grpcGetUser, connectGetUser, listUsersStream, ...plannedWorkloads];
