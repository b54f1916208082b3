import type { BalancerStrategyName, Picker } from "./balancer-strategy.js";
import { createPicker } from "./balancer-strategy.js";
import type { HealthState } from "./health-watcher.js";

/** A backend as the user configures it. */
export interface BackendAddress {
  url: string;
  /** Share of the traffic under the weighted strategy; 1 when omitted. */
  weight?: number;
}

/** What the pool reports about one backend, e.g. for `users health` or tests. */
export interface BackendStatus {
  url: string;
  weight: number;
  health: HealthState;
  /** Why the backend is in its health state, e.g. the last error. */
  detail: string;
  /** True while the backend sits out after failed calls. */
  ejected: boolean;
  /** Calls sent to it, successful calls, and calls that failed. */
  attempts: number;
  successes: number;
  failures: number;
}

/** Passive ejection after a connection failure: short at first, longer while failures continue. */
export interface EjectionOptions {
  baseMs: number;
  maxMs: number;
}

export const defaultEjection: EjectionOptions = { baseMs: 250, maxMs: 10_000 };

/** One backend's mutable state; the pool owns it. */
export class BackendState {
  health: HealthState = "unknown";
  detail = "not checked yet";
  ejectedUntil = 0;
  consecutiveFailures = 0;
  attempts = 0;
  successes = 0;
  failures = 0;

  constructor(
    readonly url: string,
    readonly weight: number,
  ) {}

  get key(): string {
    return this.url;
  }
}

/**
 * The backends, their health and passive ejections, and the strategy that
 * picks one per attempt. A backend is eligible when its health checks do not
 * say otherwise and it is not sitting out; when none is eligible every
 * backend is tried, so a call fails with a real error rather than "no backend".
 */
export class BackendPool {
  readonly backends: BackendState[];
  private readonly picker: Picker;

  constructor(
    addresses: readonly BackendAddress[],
    strategy: BalancerStrategyName,
    private readonly ejection: EjectionOptions = defaultEjection,
    private readonly now: () => number = Date.now,
    random?: () => number,
  ) {
    if (addresses.length === 0) throw new RangeError("at least one backend address is required");
    const seen = new Set<string>();
    this.backends = addresses.map((address) => {
      const weight = address.weight ?? 1;
      if (!Number.isFinite(weight) || weight <= 0) throw new RangeError(`weight of ${address.url} must be a positive number`);
      if (seen.has(address.url)) throw new RangeError(`backend ${address.url} is listed twice`);
      seen.add(address.url);
      return new BackendState(address.url, weight);
    });
    this.picker = createPicker(strategy, random);
  }

  private eligible(backend: BackendState): boolean {
    return (backend.health === "unknown" || backend.health === "serving") && this.now() >= backend.ejectedUntil;
  }

  /** The backend for the next attempt, preferring eligible backends not in `avoid` (those this call already tried). */
  pick(avoid: ReadonlySet<BackendState> = new Set()): BackendState {
    const eligible = this.backends.filter((b) => this.eligible(b));
    const fresh = eligible.filter((b) => !avoid.has(b));
    const candidates = fresh.length > 0 ? fresh : eligible.length > 0 ? eligible : this.backends;
    return this.picker(candidates);
  }

  /** Whether some eligible backend has not been tried by this call yet. */
  hasUntried(avoid: ReadonlySet<BackendState>): boolean {
    return this.backends.some((b) => this.eligible(b) && !avoid.has(b));
  }

  recordSuccess(backend: BackendState): void {
    backend.successes++;
    backend.consecutiveFailures = 0;
    backend.ejectedUntil = 0;
    if (backend.health === "unreachable") {
      backend.health = "unknown";
      backend.detail = "answered a call";
    }
  }

  /** A call failed; a failed connection takes the backend out of rotation for a while. */
  recordFailure(backend: BackendState, connectionFailed: boolean, detail: string): void {
    backend.failures++;
    if (!connectionFailed) return;
    backend.consecutiveFailures++;
    const sitOutMs = Math.min(this.ejection.maxMs, this.ejection.baseMs * 2 ** (backend.consecutiveFailures - 1));
    backend.ejectedUntil = this.now() + sitOutMs;
    backend.detail = detail;
  }

  /** The health checker's verdict; SERVING also ends a passive ejection. */
  setHealth(backend: BackendState, health: HealthState, detail: string): void {
    backend.health = health;
    backend.detail = detail;
    if (health === "serving") {
      backend.ejectedUntil = 0;
      backend.consecutiveFailures = 0;
    }
  }

  status(): BackendStatus[] {
    const now = this.now();
    return this.backends.map((b) => ({
      url: b.url,
      weight: b.weight,
      health: b.health,
      detail: b.detail,
      ejected: now < b.ejectedUntil,
      attempts: b.attempts,
      successes: b.successes,
      failures: b.failures,
    }));
  }
}
