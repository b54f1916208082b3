import { availableParallelism } from "node:os";
import { randomBytes } from "node:crypto";
import { Piscina } from "piscina";

/** Hashes and checks passwords; hashes are bcrypt "$2b$" strings, compatible with the seed's bcrypt. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /**
   * Spends the same time as a real check against a hash that matches nothing,
   * so "no such user" and "wrong password" cannot be told apart by timing.
   */
  verifyDummy(password: string): Promise<void>;
  close(): Promise<void>;
}

export interface PasswordHasherOptions {
  cost: number;
  /** Worker threads; 0 means one per core. */
  threads: number;
  /** How much nicer the worker threads run than the event loop (Linux only, where it is per thread); 0 leaves them equal. */
  nice?: number;
}

/** A bcryptjs hasher running in a piscina worker pool, off the event loop. */
export async function createPasswordHasher(options: PasswordHasherOptions): Promise<PasswordHasher> {
  const threads = options.threads > 0 ? options.threads : Math.max(1, availableParallelism());
  const pool = new Piscina({
    filename: new URL("./bcrypt-worker.js", import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    workerData: { nice: options.nice ?? 0 },
  });
  const run = (task: unknown) => pool.run(task) as Promise<unknown>;
  const dummyHash = (await run({ op: "hash", password: randomBytes(18).toString("base64"), cost: options.cost })) as string;
  return {
    async hash(password) {
      return (await run({ op: "hash", password, cost: options.cost })) as string;
    },
    async verify(password, hash) {
      return (await run({ op: "verify", password, hash })) === true;
    },
    async verifyDummy(password) {
      await run({ op: "verify", password, hash: dummyHash });
    },
    async close() {
      await pool.destroy();
    },
  };
}
