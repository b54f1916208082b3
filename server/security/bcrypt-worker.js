// Runs bcryptjs in a worker thread so hashing never blocks the event loop.
// Plain JavaScript on purpose: worker threads load it without a TypeScript loader.
import bcrypt from "bcryptjs";

/** Hashes or verifies one password; the task shape is { op, password, cost } or { op, password, hash }. */
export default function run(task) {
  if (task.op === "hash") return bcrypt.hashSync(task.password, task.cost);
  if (task.op === "verify") return bcrypt.compareSync(task.password, task.hash);
  throw new Error(`unknown bcrypt task ${String(task.op)}`);
}
