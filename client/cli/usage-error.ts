/** A mistake in how the CLI was called (arguments, flags, input file): exit code 2, no RPC was made for it. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
