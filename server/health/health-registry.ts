/**
 * The serving status of each service, kept apart from any protocol so that
 * the app, its shutdown hook and the gRPC Health service share one source of
 * truth.
 */

/** A service's health as the gRPC health protocol understands it; "" names the whole server. */
export type ServingStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING";

/** The statuses a registry knows of; what Health/List reports. */
export type HealthSnapshot = ReadonlyMap<string, ServingStatus>;

/** Serving statuses per service name that watchers can follow as they change. */
export interface HealthRegistry {
  /** Record a service's status; a no-op between shutdown() and resume(). */
  set(service: string, status: ServingStatus): void;
  /** A service's status, or undefined when nothing was ever set for it. */
  get(service: string): ServingStatus | undefined;
  /** Every known service with its status, copied so callers cannot mutate the registry. */
  list(): HealthSnapshot;
  /**
   * The current status at once, then each change until the signal aborts;
   * undefined means the service is unknown. A slow consumer skips
   * intermediate values and sees the latest one, never the same value twice in a row.
   */
  watch(service: string, signal: AbortSignal): AsyncIterable<ServingStatus | undefined>;
  /** Mark every service NOT_SERVING and ignore set() until resume(), as grpc-go's health server does while draining. */
  shutdown(): void;
  /** Mark every service SERVING and accept set() again, like grpc-go's Resume(). */
  resume(): void;
  /** Whether shutdown() is in effect, so callers can tell why set() did nothing. */
  readonly isShutdown: boolean;
}

/** The initial statuses when none are given: the server as a whole is SERVING, as in grpc-go's NewServer. */
const defaultInitial: Readonly<Record<string, ServingStatus>> = { "": "SERVING" };

/**
 * Create an empty-but-for-the-initial-statuses registry; pass `{}` to start
 * without the overall "" entry.
 */
export function createHealthRegistry(
  initial: Readonly<Record<string, ServingStatus>> = defaultInitial,
): HealthRegistry {
  const statuses = new Map<string, ServingStatus>(Object.entries(initial));
  const wakers = new Map<string, Set<() => void>>();
  let shutDown = false;

  function wake(service: string): void {
    const set = wakers.get(service);
    if (set === undefined) return;
    wakers.delete(service);
    for (const w of set) w();
  }

  function store(service: string, status: ServingStatus): void {
    if (statuses.get(service) === status) return;
    statuses.set(service, status);
    wake(service);
  }

  /** Resolve on the next change of the service or when the signal aborts, whichever is first. */
  function nextChange(service: string, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let set = wakers.get(service);
      if (set === undefined) {
        set = new Set();
        wakers.set(service, set);
      }
      const waiters = set;
      const done = (): void => {
        waiters.delete(done);
        if (waiters.size === 0 && wakers.get(service) === waiters) wakers.delete(service);
        signal.removeEventListener("abort", done);
        resolve();
      };
      waiters.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  async function* watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus | undefined> {
    let first = true;
    let last: ServingStatus | undefined;
    while (!signal.aborted) {
      const current = statuses.get(service);
      if (first || current !== last) {
        first = false;
        last = current;
        yield current;
        continue;
      }
      await nextChange(service, signal);
    }
  }

  return {
    set(service, status) {
      if (!shutDown) store(service, status);
    },
    get: (service) => statuses.get(service),
    list: () => new Map(statuses),
    watch,
    shutdown() {
      shutDown = true;
      for (const service of [...statuses.keys()]) store(service, "NOT_SERVING");
    },
    resume() {
      shutDown = false;
      for (const service of [...statuses.keys()]) store(service, "SERVING");
    },
    get isShutdown() {
      return shutDown;
    },
  };
}
