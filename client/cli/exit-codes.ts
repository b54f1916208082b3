/** Exit codes of the `users` CLI; scripts rely on them, so they only ever grow. */
export const ExitCode = {
  /** The command did what was asked. */
  ok: 0,
  /** A call failed; stderr's first line is "error: <CODE_NAME>: <message>". */
  rpcFailed: 1,
  /** The command line or an input file was wrong; nothing was sent for it. */
  usage: 2,
  /** An import finished but some rows failed; each is listed on stdout with its line number. */
  partialImport: 3,
  /** `users health`: the server answered but is not SERVING. */
  notServing: 4,
  /** Interrupted by Ctrl-C (SIGINT) before the command finished. */
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The table printed by --help and copied into the README. */
export const exitCodeDocs: readonly [number, string][] = [
  [ExitCode.ok, "success"],
  [ExitCode.rpcFailed, "a call failed; stderr starts with `error: <CODE_NAME>: <message>` (e.g. NOT_FOUND, UNAVAILABLE)"],
  [ExitCode.usage, "usage error: bad arguments, missing credentials, unreadable input file"],
  [ExitCode.partialImport, "import finished with failed rows (listed on stdout as `line <n>: <CODE> <message>`)"],
  [ExitCode.notServing, "health: a server answered but is not SERVING"],
  [ExitCode.interrupted, "interrupted (Ctrl-C)"],
];
