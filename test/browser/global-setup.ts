import { existsSync } from "node:fs";

/** The browser tests drive Debian's Chromium; say clearly how to get it when it is missing. */
export const CHROMIUM = "/usr/bin/chromium";

export default function setup() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the console's browser tests need Debian's Chromium. Install it with ` +
        "`apt-get update && apt-get install -y chromium` (.ci/run does this on a fresh machine).",
    );
  }
}
