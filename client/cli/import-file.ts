import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { parse } from "csv-parse/sync";
import { CreateUserRequestSchema, type CreateUserRequest } from "../../gen/user/user_pb.js";
import { UsageError } from "./usage-error.js";

/** One data row of an import file: the request to send, or why the row could not be read. */
export type ImportRow = { line: number; request: CreateUserRequest } | { line: number; problem: string };

export type ImportFormat = "csv" | "jsonl";

/** The file's format from its name: .csv is CSV, .jsonl/.ndjson/.json are JSON lines. */
export function formatFromName(file: string): ImportFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".jsonl") || lower.endsWith(".ndjson") || lower.endsWith(".json")) return "jsonl";
  return undefined;
}

/** CSV headers accepted for each CreateUserRequest field; matching ignores case, spaces, "-" and "_". */
type CsvField = "username" | "email" | "password" | "fullName" | "avatarUrl" | "roles" | "metadata";

const csvColumns: Record<string, CsvField> = {
  username: "username",
  email: "email",
  password: "password",
  fullname: "fullName",
  name: "fullName",
  avatarurl: "avatarUrl",
  avatar: "avatarUrl",
  roles: "roles",
  metadata: "metadata",
};

const normalizeHeader = (h: string) => h.trim().toLowerCase().replace(/[\s_-]/g, "");

/** "a=1;b=2" or a JSON object, as metadata. */
function parseMetadata(cell: string): Record<string, string> {
  const text = cell.trim();
  if (text === "") return {};
  if (text.startsWith("{")) {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("metadata must be a JSON object");
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  }
  const out: Record<string, string> = {};
  for (const pair of text.split(";")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`metadata entry "${pair}" is not key=value`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** The line a record starts on, from csv-parse's end line and the record's raw text. */
function startLine(endLine: number, raw: string): number {
  const body = raw.replace(/^[\r\n]+/, "").replace(/\r?\n$/, "");
  return endLine - (body.match(/\n/g)?.length ?? 0);
}

/**
 * Reads a CSV file with a header row (username, email, password, full_name,
 * avatar_url, roles separated by ";", metadata as "k=v;k=v" or JSON). A bad
 * header rejects the whole file; a bad row is reported on its own line.
 */
export function parseCsv(text: string): ImportRow[] {
  let records: { record: string[]; info: { lines: number }; raw: string }[];
  try {
    records = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true, info: true, raw: true }) as unknown as typeof records;
  } catch (error) {
    const e = error as Error & { lines?: number };
    throw new UsageError(`cannot read the CSV file${e.lines === undefined ? "" : ` at line ${e.lines}`}: ${e.message}`);
  }
  const [header, ...rows] = records;
  if (header === undefined) return [];
  const fields = header.record.map((h) => {
    const field = csvColumns[normalizeHeader(h)];
    if (field === undefined) throw new UsageError(`unknown CSV column "${h}": use username, email, password, full_name, avatar_url, roles, metadata`);
    return field;
  });
  if (!fields.includes("username")) throw new UsageError('the CSV header needs a "username" column');
  return rows.map(({ record, info, raw }) => {
    const line = startLine(info.lines, raw);
    if (record.length !== fields.length) return { line, problem: `expected ${fields.length} columns, found ${record.length}` };
    try {
      const request = create(CreateUserRequestSchema);
      fields.forEach((field, i) => {
        const cell = record[i] ?? "";
        if (field === "roles") request.roles = cell.split(/[;|,]/).map((r) => r.trim()).filter((r) => r !== "");
        else if (field === "metadata") request.metadata = parseMetadata(cell);
        else request[field] = cell;
      });
      return { line, request };
    } catch (error) {
      return { line, problem: error instanceof Error ? error.message : String(error) };
    }
  });
}

/** Reads JSON lines: one CreateUserRequest object per line, proto or JSON field names; blank lines are skipped. */
export function parseJsonLines(text: string): ImportRow[] {
  const rows: ImportRow[] = [];
  text
    .replace(/^\uFEFF/, "")
    .split("\n")
    .forEach((raw, i) => {
      const line = i + 1;
      if (raw.trim() === "") return;
      try {
        const value = JSON.parse(raw) as JsonValue;
        if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("a line must be a JSON object");
        rows.push({ line, request: fromJson(CreateUserRequestSchema, value) });
      } catch (error) {
        rows.push({ line, problem: error instanceof Error ? error.message : String(error) });
      }
    });
  return rows;
}

export function parseImportFile(text: string, format: ImportFormat): ImportRow[] {
  return format === "csv" ? parseCsv(text) : parseJsonLines(text);
}
