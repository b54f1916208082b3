import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** The system Chromium the browser tests drive (Debian's package). */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Installs Debian's chromium when it is missing (CI runs as root), so the browser tests run on a fresh machine. */
export function ensureChromium(): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit", timeout: 600_000, env });
  } catch {
    // The package lists may be missing on a fresh image: refresh them once and retry.
    execFileSync("apt-get", ["update"], { stdio: "inherit", timeout: 300_000, env });
    execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit", timeout: 600_000, env });
  }
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get install chromium did not provide ${CHROMIUM_PATH}`);
  return CHROMIUM_PATH;
}

/**
 * Launches headless Chromium with a fresh profile (playwright makes a new
 * user-data-dir per launch) and no background traffic to the internet.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: ensureChromium(),
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
    timeout: 30_000,
  });
}
