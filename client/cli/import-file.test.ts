import { describe, expect, it } from "vitest";
import { formatFromName, parseCsv, parseJsonLines, type ImportRow } from "./import-file.js";
import { UsageError } from "./usage-error.js";

const summary = (rows: ImportRow[]) =>
  rows.map((r) => ("problem" in r ? [r.line, "problem", r.problem] : [r.line, r.request.username, r.request.email, r.request.fullName, r.request.roles, r.request.metadata]));

describe("parseCsv", () => {
  it("maps header columns to fields and keeps each record's starting line", () => {
    const text = [
      "Username,Email,Password,Full Name,roles,metadata",
      "ann,ann@example.com,pw-123456,Ann A,admin;user,team=a;floor=3",
      '"bob",bob@example.com,pw-123456,"Bob',
      'the Builder",,"{""k"":""v""}"',
      "",
      "carl,carl@example.com,pw-123456,Carl,,",
    ].join("\n");
    expect(summary(parseCsv(text))).toEqual([
      [2, "ann", "ann@example.com", "Ann A", ["admin", "user"], { team: "a", floor: "3" }],
      [3, "bob", "bob@example.com", "Bob\nthe Builder", [], { k: "v" }],
      [6, "carl", "carl@example.com", "Carl", [], {}],
    ]);
  });

  it("reports a row with the wrong number of columns or bad metadata on its own line", () => {
    const text = "username,email,metadata\nann,a@example.com\nbob,b@example.com,oops\ncid,c@example.com,x=1\n";
    expect(summary(parseCsv(text))).toEqual([
      [2, "problem", "expected 3 columns, found 2"],
      [3, "problem", 'metadata entry "oops" is not key=value'],
      [4, "cid", "c@example.com", "", [], { x: "1" }],
    ]);
  });

  it("rejects a file with an unknown column, no username column, or a broken quote", () => {
    expect(() => parseCsv("username,shoe_size\n")).toThrow(UsageError);
    expect(() => parseCsv("username,shoe_size\n")).toThrow(/unknown CSV column "shoe_size"/);
    expect(() => parseCsv("email\nx@example.com\n")).toThrow(/needs a "username" column/);
    expect(() => parseCsv('username\n"ann\n')).toThrow(/cannot read the CSV file at line \d+: Quote Not Closed/);
  });

  it("ignores a byte-order mark and reads an empty file as no rows", () => {
    expect(summary(parseCsv("\uFEFFusername\nann\n"))).toEqual([[2, "ann", "", "", [], {}]]);
    expect(parseCsv("")).toEqual([]);
  });
});

describe("parseJsonLines", () => {
  it("reads proto and JSON field names, skips blank lines, and reports bad lines by number", () => {
    const text = [
      '{"username":"ann","email":"ann@example.com","full_name":"Ann","roles":["user"],"metadata":{"a":"1"}}',
      "",
      '{"username":"bob","fullName":"Bob"}',
      "{not json",
      '["an","array"]',
      '{"username":"x","shoe_size":44}',
    ].join("\n");
    const rows = parseJsonLines(text);
    expect(summary(rows).slice(0, 2)).toEqual([
      [1, "ann", "ann@example.com", "Ann", ["user"], { a: "1" }],
      [3, "bob", "", "Bob", [], {}],
    ]);
    expect(rows.slice(2).map((r) => [r.line, "problem" in r])).toEqual([
      [4, true],
      [5, true],
      [6, true],
    ]);
    const last = rows[4];
    expect(last !== undefined && "problem" in last ? last.problem : "").toMatch(/shoe_size/);
  });
});

describe("formatFromName", () => {
  it("knows the extensions", () => {
    expect(["a.csv", "b.JSONL", "c.ndjson", "d.json", "e.txt"].map(formatFromName)).toEqual(["csv", "jsonl", "jsonl", "jsonl", undefined]);
  });
});
