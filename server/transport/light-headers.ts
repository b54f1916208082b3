/**
 * A small stand-in for the WHATWG Headers class, backed by a plain object.
 * The gRPC fast path builds several header sets per call; undici's Headers
 * validates and copies on every operation, which showed up in profiles.
 * It implements the part of Headers that interceptors and Connect's trailer
 * helpers use.
 */
export class LightHeaders {
  private readonly map = new Map<string, string>();

  constructor(init?: Record<string, string | string[] | undefined>) {
    if (init !== undefined) {
      for (const key in init) {
        const value = init[key];
        if (value === undefined || key.charCodeAt(0) === 58 /* ':' pseudo-header */) continue;
        this.map.set(key, Array.isArray(value) ? value.join(", ") : value);
      }
    }
  }

  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
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
