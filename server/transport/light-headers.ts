/**
 * A small stand-in for the WHATWG Headers class, backed by a plain object.
 * The gRPC fast path builds several header sets per call; undici's Headers
 * validates and copies on every operation, which showed up in profiles.
 * It implements the part of Headers that interceptors and Connect's trailer
 * helpers use.
 */
export class LightHeaders {
  private built: Map<string, string> | undefined;

  /** Request headers are read far more than written, so they are only copied on the first write or iteration. */
  constructor(private readonly raw?: Record<string, string | string[] | undefined>) {}

  private get map(): Map<string, string> {
    if (this.built === undefined) {
      this.built = new Map();
      const raw = this.raw;
      if (raw !== undefined) {
        for (const key in raw) {
          const value = raw[key];
          if (value === undefined || key.charCodeAt(0) === 58 /* ':' pseudo-header */) continue;
          this.built.set(key, Array.isArray(value) ? value.join(", ") : value);
        }
      }
    }
    return this.built;
  }

  get(name: string): string | null {
    if (this.built === undefined && this.raw !== undefined) {
      const key = name.toLowerCase();
      if (key.charCodeAt(0) === 58) return null;
      const value = this.raw[key];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    }
    return this.map.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), String(value));
  }

  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const old = this.map.get(key);
    this.map.set(key, old === undefined ? String(value) : `${old}, ${value}`);
  }

  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }

  forEach(callback: (value: string, key: string, parent: LightHeaders) => void): void {
    for (const [key, value] of this.map) callback(value, key, this);
  }

  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  values(): IterableIterator<string> {
    return this.map.values();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.map.entries();
  }

  getSetCookie(): string[] {
    return [];
  }

  /** Copies into an object for http2's respond() / sendTrailers(). */
  toObject(target: Record<string, string> = {}): Record<string, string> {
    for (const [key, value] of this.map) target[key] = value;
    return target;
  }

  /** The type interceptors expect; the methods they call are all here. */
  asHeaders(): Headers {
    return this as unknown as Headers;
  }
}
