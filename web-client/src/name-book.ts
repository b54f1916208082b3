/** Usernames by user id, learned from messages and the directory, looked up once when missing. */
export class NameBook {
  private readonly names = new Map<bigint, string>();
  private readonly asked = new Set<bigint>();
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly lookup: (userId: bigint) => Promise<string | undefined>) {}

  learn(userId: bigint, username: string): void {
    if (userId === 0n || username === "" || this.names.get(userId) === username) return;
    this.names.set(userId, username);
    for (const listener of this.listeners) listener();
  }

  label(userId: bigint): string {
    return this.names.get(userId) ?? `user #${userId}`;
  }

  /** Looks the name up in the background if it is not known yet. */
  want(userId: bigint): void {
    if (this.names.has(userId) || this.asked.has(userId)) return;
    this.asked.add(userId);
    this.lookup(userId).then(
      (name) => name !== undefined && this.learn(userId, name),
      () => this.asked.delete(userId),
    );
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
}
