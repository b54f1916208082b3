import type { CreateUserRequest } from "../../gen/user/user_pb.js";
import type { UserClient } from "../user-client.js";
import type { ImportRow } from "./import-file.js";

/** A row that was not imported, by its line in the file. */
export interface ImportFailure {
  line: number;
  /** The server's code name (e.g. ALREADY_EXISTS), or INVALID_ROW for a row that could not be read and was not sent. */
  code: string;
  message: string;
  fields: string[];
}

export interface ImportResult {
  /** Data rows in the file. */
  rows: number;
  created: number;
  failures: ImportFailure[];
  /** Set when a whole batch call failed; rows of that batch and later ones were not confirmed. */
  error?: unknown;
  /** Rows whose outcome is unknown or that were never sent because a batch call failed. */
  unconfirmed: number;
}

export interface ImportOptions {
  /** Rows per BatchCreateUsers call; the server reports items by index within one call. */
  batchSize: number;
  /** Deadline of each batch call. */
  timeoutMs: number;
  /** Told each time a row has been handed to the connection (or skipped), for a progress bar. */
  onProgress?: (done: number) => void;
}

/**
 * Sends the readable rows through BatchCreateUsers in batches and maps the
 * server's per-item errors (by index) back to file lines; unreadable rows are
 * reported without being sent.
 */
export async function importUsers(client: UserClient, rows: readonly ImportRow[], options: ImportOptions): Promise<ImportResult> {
  const failures: ImportFailure[] = [];
  const sendable: { line: number; request: CreateUserRequest }[] = [];
  let progressed = 0;
  for (const row of rows) {
    if ("problem" in row) {
      failures.push({ line: row.line, code: "INVALID_ROW", message: row.problem, fields: [] });
      options.onProgress?.(++progressed);
    } else {
      sendable.push(row);
    }
  }
  let created = 0;
  for (let start = 0; start < sendable.length; start += options.batchSize) {
    const batch = sendable.slice(start, start + options.batchSize);
    async function* items() {
      for (const row of batch) {
        yield row.request;
        options.onProgress?.(++progressed);
      }
    }
    try {
      const res = await client.batchCreateUsers(items(), { timeoutMs: options.timeoutMs });
      created += res.successCount;
      for (const item of res.itemErrors) {
        const row = batch[item.index];
        failures.push({ line: row?.line ?? -1, code: item.code, message: item.message, fields: [...item.fields] });
      }
    } catch (error) {
      return { rows: rows.length, created, failures: sortByLine(failures), error, unconfirmed: sendable.length - start };
    }
  }
  return { rows: rows.length, created, failures: sortByLine(failures), unconfirmed: 0 };
}

function sortByLine(failures: ImportFailure[]): ImportFailure[] {
  return failures.sort((a, b) => a.line - b.line);
}

/** "line 4: ALREADY_EXISTS (ann) username is taken [username]" */
export function failureLine(failure: ImportFailure): string {
  const fields = failure.fields.length > 0 ? ` [${failure.fields.join(", ")}]` : "";
  return `line ${failure.line}: ${failure.code} ${failure.message}${fields}`;
}
