import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..");
const buf = path.join(root, "node_modules", ".bin", "buf");
const scratch = mkdtempSync(path.join(tmpdir(), "contract-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs buf in the project root and returns its exit code and output. */
async function runBuf(args: string[], cwd = root): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(buf, args, { cwd, env: { ...process.env, PATH: `${path.join(root, "node_modules", ".bin")}:${process.env["PATH"] ?? ""}` } });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

function files(dir: string, base = dir): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full, base) : [path.relative(base, full)];
  });
}

describe("the proto contract and generated code", () => {
  it("passes buf lint", async () => {
    const result = await runBuf(["lint"]);
    expect(result.out).toBe("");
    expect(result.code).toBe(0);
  });

  it("has gen/ exactly as buf generate writes it now (regenerate with npm run generate)", async () => {
    const out = path.join(scratch, "generated");
    const result = await runBuf(["generate", "-o", out]);
    expect(result.code).toBe(0);
    const fresh = path.join(out, "gen");
    const committed = path.join(root, "gen");
    expect(files(committed).sort()).toEqual(files(fresh).sort());
    for (const file of files(fresh)) {
      expect(readFileSync(path.join(committed, file), "utf8"), file).toBe(readFileSync(path.join(fresh, file), "utf8"));
    }
  });

  it("stays wire- and JSON-compatible with the seed's published user.proto", async () => {
    const result = await runBuf(["breaking", "proto", "--against", "test/fixtures/seed-proto"]);
    expect(result.out).toBe("");
    expect(result.code).toBe(0);
  });

  it("would catch a breaking change (the check is live)", async () => {
    const copy = path.join(scratch, "broken");
    cpSync(root, copy, { recursive: true, filter: (src) => !src.includes("node_modules") && !src.includes(`${path.sep}.git`) && !src.includes(`${path.sep}dist`) });
    const protoFile = path.join(copy, "proto", "user", "user.proto");
    writeFileSync(protoFile, readFileSync(protoFile, "utf8").replace("string email = 3;", "string email = 11;"));
    const result = await runBuf(["breaking", "proto", "--against", "test/fixtures/seed-proto"], copy);
    expect(result.code).not.toBe(0);
    expect(result.out).toMatch(/email/);
  });
});
