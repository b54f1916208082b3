/** How the client spreads calls over its backends. */
export type BalancerStrategyName = "round-robin" | "weighted" | "random";

export const balancerStrategies: readonly BalancerStrategyName[] = ["round-robin", "weighted", "random"];

/** What a strategy needs to know about a backend. */
export interface Weighted {
  readonly key: string;
  readonly weight: number;
}

/** Picks one of the candidates (never an empty list) for the next call; strategies keep their own state. */
export type Picker = <T extends Weighted>(candidates: readonly T[]) => T;

/** Takes the candidates in turn; the cursor survives changes in the candidate list. */
export function roundRobin(): Picker {
  let counter = 0;
  return (candidates) => candidates[counter++ % candidates.length] as (typeof candidates)[number];
}

/**
 * Smooth weighted round-robin (nginx's algorithm): over any window of
 * sum(weights) picks each backend gets exactly its weight, interleaved rather
 * than in bursts, and an ejected backend's share goes to the others.
 */
export function weightedRoundRobin(): Picker {
  const current = new Map<string, number>();
  return (candidates) => {
    let total = 0;
    let best: (typeof candidates)[number] | undefined;
    let bestScore = -Infinity;
    for (const candidate of candidates) {
      const weight = Math.max(0, candidate.weight);
      total += weight;
      const score = (current.get(candidate.key) ?? 0) + weight;
      current.set(candidate.key, score);
      if (score > bestScore) {
        bestScore = score;
        best = candidate;
      }
    }
    const chosen = best ?? (candidates[0] as (typeof candidates)[number]);
    current.set(chosen.key, (current.get(chosen.key) ?? 0) - total);
    return chosen;
  };
}

/** Picks uniformly at random; `random` returns a number in [0, 1). */
export function randomPick(random: () => number = Math.random): Picker {
  return (candidates) => candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))] as (typeof candidates)[number];
}

/** The picker for a strategy name. */
export function createPicker(strategy: BalancerStrategyName, random?: () => number): Picker {
  switch (strategy) {
    case "round-robin":
      return roundRobin();
    case "weighted":
      return weightedRoundRobin();
    case "random":
      return randomPick(random);
  }
}

/** Parses a strategy name as users type it, or throws naming the accepted values. */
export function parseStrategy(value: string): BalancerStrategyName {
  const name = value.trim().toLowerCase().replace("_", "-");
  if (name === "round-robin" || name === "weighted" || name === "random") return name;
  throw new RangeError(`unknown balancing strategy "${value}": use round-robin, weighted or random`);
}
