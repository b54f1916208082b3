import type { HealthRegistry } from "./health-registry.js";

/** What the health of this server depends on. */
export interface HealthProbeDeps {
  registry: HealthRegistry;
  /** Resolves when storage answers; a storage that does not answer makes the server NOT_SERVING. */
  pingStorage: () => Promise<void>;
  /** False while a shared chat broker is unreachable. */
  busHealthy: () => boolean;
  /** Services that need the chat bus as well as storage (e.g. user.UserService for chat). */
  busServices: readonly string[];
  /** Services that need storage only (e.g. user.AuthService); "" (the whole server) is always one of them. */
  storageServices: readonly string[];
  intervalMs: number;
  /** A ping slower than this counts as a failure. */
  timeoutMs: number;
  /** Called when a check changes the overall status, so the change can be logged. */
  onChange?: (serving: boolean, reason: string | undefined) => void;
}

/** The poller; start() runs one check at once so the first answer is real. */
export interface HealthProbe {
  start(): Promise<void>;
  /** Runs one check now. */
  check(): Promise<void>;
  stop(): void;
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Keeps the health registry true to the dependencies: the whole server ("")
 * and storage-only services are SERVING only while storage answers; services
 * that also need the chat bus follow the bus as well. A broker outage thus
 * marks chat as degraded without taking every replica out of the load balancer.
 * The registry ignores every update once shutdown has begun.
 */
export function createHealthProbe(deps: HealthProbeDeps): HealthProbe {
  let timer: NodeJS.Timeout | undefined;
  let lastServing: boolean | undefined;
  let running: Promise<void> | undefined;

  async function runCheck(): Promise<void> {
    let storageOk = true;
    let reason: string | undefined;
    try {
      await withTimeout(deps.pingStorage(), deps.timeoutMs);
    } catch (error) {
      storageOk = false;
      reason = `storage: ${error instanceof Error ? error.message : String(error)}`;
    }
    const busOk = deps.busHealthy();
    const storageStatus = storageOk ? "SERVING" : "NOT_SERVING";
    for (const service of ["", ...deps.storageServices]) deps.registry.set(service, storageStatus);
    for (const service of deps.busServices) deps.registry.set(service, storageOk && busOk ? "SERVING" : "NOT_SERVING");
    if (lastServing !== storageOk) {
      lastServing = storageOk;
      deps.onChange?.(storageOk, reason);
    }
  }

  /** One check at a time: a slow ping is not stacked up by the interval. */
  const check = (): Promise<void> => {
    running ??= runCheck().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    async start() {
      await check();
      timer = setInterval(() => void check(), deps.intervalMs);
      timer.unref();
    },
    check,
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
