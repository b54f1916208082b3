// The single-thread bcryptjs reference: hashes N passwords back to back in one
// thread and prints the rate, so the project's hashing pool has a same-run
// yardstick. Plain JavaScript so it starts without a TypeScript loader.
// Usage: node bench/baselines/bcrypt-one-thread.js <count> <cost>
import { randomBytes } from "node:crypto";
import bcrypt from "bcryptjs";

const count = Number(process.argv[2] ?? 60);
const cost = Number(process.argv[3] ?? 10);
if (!(count > 0) || !(cost >= 4)) {
  console.error("usage: bcrypt-one-thread.js <count> <cost>");
  process.exit(2);
}
const passwords = Array.from({ length: count + 2 }, () => randomBytes(9).toString("base64url"));
// Two hashes first, so the JIT has compiled bcryptjs before the clock starts.
bcrypt.hashSync(passwords[0], cost);
bcrypt.hashSync(passwords[1], cost);
const started = performance.now();
for (let i = 2; i < passwords.length; i++) bcrypt.hashSync(passwords[i], cost);
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ hashes: count, cost, ms, hashesPerSec: count / (ms / 1000) }) + "\n");
