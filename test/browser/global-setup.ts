import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** The browser tests drive Debian's Chromium (playwright-core downloads no browser of its own). */
export const CHROMIUM = "/usr/bin/chromium";

const HOW = "`apt-get update && apt-get install -y chromium`";

/**
 * On a fresh machine `npm test` installs Chromium itself when it can (root with apt-get, as
 * on CI); otherwise it says exactly what to run. It never skips the browser tests.
 */
export default function setup() {
  if (existsSync(CHROMIUM)) return;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root && existsSync("/usr/bin/apt-get")) {
    process.stderr.write(`[browser tests] ${CHROMIUM} is missing: installing Debian's chromium (${HOW})…\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("apt-get", ["update"], { stdio: ["ignore", "ignore", "inherit"], env });
    execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: ["ignore", "ignore", "inherit"], env });
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the console's browser tests need Debian's Chromium. Install it with ${HOW}.`,
    );
  }
}
