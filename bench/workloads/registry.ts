/**
 * The workload registry: the one list run.ts walks. Add a workload by writing
 * a module that exports a Workload and appending it here.
 */
import type { Workload } from "../lib/types.js";
import { batchCreate1000 } from "./batch-create.js";
import { chatFanout } from "./chat-fanout.js";
import { connectGetUser } from "./connect-get-user.js";
import { createFlood } from "./create-flood.js";
import { grpcGetUser } from "./grpc-get-user.js";
import { idleChatMemory } from "./idle-chat-memory.js";
import { listUsersStream } from "./list-users-stream.js";

// The memory figure comes first, while the servers' heaps have not yet been grown by the load workloads.
export const workloads: readonly Workload[] = [idleChatMemory, grpcGetUser, connectGetUser, listUsersStream, batchCreate1000, createFlood, chatFanout];
