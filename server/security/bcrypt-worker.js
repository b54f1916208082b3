// Runs bcryptjs in a worker thread so hashing never blocks the event loop.
// Plain JavaScript on purpose: worker threads load it without a TypeScript loader.
import { getPriority, setPriority } from "node:os";
import bcrypt from "bcryptjs";
import { workerData } from "piscina";

// On Linux a thread's niceness is its own, so lowering it here leaves the event
// loop ahead of hashing whenever both want a core; elsewhere it would apply to the
// whole process, so it is left alone. The step is relative to the niceness this
// thread inherited, so a server started under `nice` is never asked to raise it
// (which needs privileges), and a refusal only costs the priority, not hashing.
const nice = Number(workerData?.nice ?? 0);
if (process.platform === "linux" && nice > 0) {
  try {
    setPriority(Math.min(19, getPriority() + nice));
  } catch {
    // Hashing still works at the inherited priority.
  }
}

/** Hashes or verifies one password; the task shape is { op, password, cost } or { op, password, hash }. */
export default function run(task) {
  if (task.op === "hash") return bcrypt.hashSync(task.password, task.cost);
  if (task.op === "verify") return bcrypt.compareSync(task.password, task.hash);
  throw new Error(`unknown bcrypt task ${String(task.op)}`);
}
