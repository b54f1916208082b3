import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const webClient = path.join(root, "web-client");

/** Newest modification time among the files that go into the browser bundle. */
function newestInputMs(): number {
  let newest = 0;
  const visit = (target: string) => {
    const stat = statSync(target);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(target)) visit(path.join(target, entry));
    } else {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const input of ["src", "index.html", "vite.config.ts"]) visit(path.join(webClient, input));
  visit(path.join(root, "gen"));
  visit(path.join(root, "package-lock.json"));
  return newest;
}

/**
 * The folder of a built web client that matches the current sources:
 * web-client/dist when it is newer than every input, otherwise a fresh
 * build in a temporary folder (never touching dist, which a developer or a
 * parallel run may be using).
 */
export async function ensureWebBuild(): Promise<string> {
  const dist = path.join(webClient, "dist");
  try {
    if (statSync(path.join(dist, "index.html")).mtimeMs > newestInputMs()) return dist;
  } catch {
    // No build yet.
  }
  const outDir = mkdtempSync(path.join(tmpdir(), "web-client-"));
  const { build } = await import("vite");
  await build({ configFile: path.join(webClient, "vite.config.ts"), logLevel: "warn", build: { outDir, emptyOutDir: true } });
  return outDir;
}
