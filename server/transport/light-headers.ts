/**
 * A small stand-in for the WHATWG Headers class, backed by a plain object.
 * The gRPC fast path builds several header sets per call; undici's Headers
 * validates and copies on every operation, which showed up in profiles.
 * It implements the part of Headers that interceptors and Connect's trailer
 * helpers use.
 */
export class LightHeaders {
  /** Names (lower case) and values side by side: a call has a handful, and a Map cost more to make than they ever take to scan. */
  private names: string[] | undefined;
  private values_: string[] | undefined;

  /** Request headers are read far more than written, so they are only copied on the first write or iteration. */
  constructor(private readonly raw?: Record<string, string | string[] | undefined>) {}

  /** The copied entries, made on first use. */
  private build(): void {
    const names: string[] = [];
    const values: string[] = [];
    const raw = this.raw;
    if (raw !== undefined) {
      for (const key in raw) {
        const value = raw[key];
        if (value === undefined || key.charCodeAt(0) === 58 /* ':' pseudo-header */) continue;
        names.push(key);
        values.push(Array.isArray(value) ? value.join(", ") : value);
      }
    }
    this.names = names;
    this.values_ = values;
  }

  private indexOf(key: string): number {
    if (this.names === undefined) this.build();
    return (this.names as string[]).indexOf(key);
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    if (this.names === undefined && this.raw !== undefined) {
      if (key.charCodeAt(0) === 58) return null;
      const value = this.raw[key];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    }
    const i = this.indexOf(key);
    return i < 0 ? null : (this.values_ as string[])[i] as string;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  set(name: string, value: string): void {
    const key = name.toLowerCase();
    const i = this.indexOf(key);
    if (i < 0) {
      (this.names as string[]).push(key);
      (this.values_ as string[]).push(String(value));
    } else {
      (this.values_ as string[])[i] = String(value);
    }
  }

  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const i = this.indexOf(key);
    if (i < 0) this.set(key, value);
    else (this.values_ as string[])[i] = `${(this.values_ as string[])[i]}, ${value}`;
  }

  delete(name: string): void {
    const i = this.indexOf(name.toLowerCase());
    if (i < 0) return;
    (this.names as string[]).splice(i, 1);
    (this.values_ as string[]).splice(i, 1);
  }

  forEach(callback: (value: string, key: string, parent: LightHeaders) => void): void {
    if (this.names === undefined) this.build();
    const names = this.names as string[];
    const values = this.values_ as string[];
    for (let i = 0; i < names.length; i++) callback(values[i] as string, names[i] as string, this);
  }

  *entries(): IterableIterator<[string, string]> {
    if (this.names === undefined) this.build();
    const names = this.names as string[];
    const values = this.values_ as string[];
    for (let i = 0; i < names.length; i++) yield [names[i] as string, values[i] as string];
  }

  *keys(): IterableIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  getSetCookie(): string[] {
    return [];
  }

  /** Copies into an object for http2's respond() / sendTrailers(). */
  toObject(target: Record<string, string> = {}): Record<string, string> {
    if (this.names === undefined) {
      if (this.raw === undefined) return target;
      this.build();
    }
    const names = this.names as string[];
    const values = this.values_ as string[];
    for (let i = 0; i < names.length; i++) target[names[i] as string] = values[i] as string;
    return target;
  }

  /** The type interceptors expect; the methods they call are all here. */
  asHeaders(): Headers {
    return this as unknown as Headers;
  }
}
