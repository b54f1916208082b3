/**
 * Workloads the issue wants but that wait on server features; they are listed
 * (and skipped with a printed line) so the report shows what is still missing.
 */
import type { Workload } from "../lib/types.js";

/** Builds a placeholder that documents the plan and refuses to run. */
function planned(id: string, title: string, description: string, primary: Workload["primary"], targets: Workload["targets"]): Workload {
  return {
    id,
    title,
    status: "planned",
    description,
    targets,
    primary,
    columns: [primary],
    goals: [],
    prepare: () => Promise.reject(new Error(`${id} is planned, not implemented`)),
    check: () => [],
  };
}

const perSecond = { key: "usersPerSec", label: "users/s", digits: 0, higherIsBetter: true } as const;

export const plannedWorkloads: Workload[] = [
  planned(
    "batch-create-1000",
    "BatchCreateUsers of 1,000 users",
    "Stream 1,000 CreateUserRequests (fresh usernames per round) in one call at the server's default bcrypt cost; report users/s and the reply latency. Use GrpcH2Client.call with createUserRequestBytes.",
    perSecond,
    ["project", "grpc-js"],
  ),
  planned(
    "get-user-p99-under-create-flood",
    "GetUser p99 during a CreateUser flood",
    "Run grpc-get-user's h2load while a second loader (h2load -c4 -m4 on CreateUser with unique bodies, or a GrpcH2Client loop) keeps bcrypt busy; report GetUser p99 — it shows whether hashing blocks the event loop.",
    { key: "p99Ms", label: "p99 ms", digits: 2, higherIsBetter: false },
    ["project", "grpc-js"],
  ),
  planned(
    "chat-fanout-1000",
    "Chat fan-out to 1,000 subscribers",
    "Open 1,000 SubscribeChat streams (a few h2c connections, ≤100 streams each), send messages via SendChatMessage, measure delivered messages/s and send-to-last-delivery latency.",
    { key: "deliveriesPerSec", label: "deliveries/s", digits: 0, higherIsBetter: true },
    ["project"],
  ),
  planned(
    "idle-chat-streams-memory",
    "Memory of 10,000 idle chat streams",
    "Open 10,000 idle UserChat/SubscribeChat streams and read the server's RSS (from /proc/<pid>/status VmRSS via Target.pid) before and after; report KiB per stream.",
    { key: "kibPerStream", label: "KiB/stream", digits: 1, higherIsBetter: false },
    ["project", "grpc-js"],
  ),
];
