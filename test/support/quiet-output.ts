/**
 * Output that passing tests produce on purpose, dropped so `npm test` shows what matters
 * (`KEYGATE_TEST_VERBOSE=1 npm test` shows everything). A vitest globalSetup of the
 * workerd projects: it runs in vitest's main process, where the Workers vitest
 * integration writes its runtime's log lines straight to stderr (out of reach of vitest's
 * console handling and of `silent`): lines it cannot parse to stdout, warnings to stderr.
 *
 * Dropped, whole lines only:
 * - workerd's note that a header value has non-ASCII bytes: the bypass and property tests
 *   send such values on purpose (and assert the 400);
 * - workerd's own report of an origin connection refused or cut, with its "uncaught
 *   exception … Network connection lost" echo: the fault tests cause it on purpose (and
 *   assert the gateway's 502/504 or cut stream);
 * - the native stack addresses workerd prints after those.
 * A failing test still fails, and vitest still prints its error and the test's console.
 */
const EXPECTED_NOISE: RegExp[] = [
  /^A header value for "[^"]*" contains non-ASCII characters: /,
  // …its end, when the value held a line break and the note arrived as two lines:
  /" \(raw bytes: "[^"]*"\)\. As a quirk to support Unicode, we are encoding values as UTF-8 in the header, but in a browser this would likely result in a TypeError exception\. Consider encoding this string in ASCII for compatibility with browser implementations of the Fetch specification\.$/,
  /^exception = rust\/worker\/ffi\.rs:\d+: disconnected: /,
  /^uncaught exception; source = Uncaught \(in promise\); stack = Error: Network connection lost\.$/,
  /^uncaught exception; exception = workerd\/jsg\/value\.h:\d+: disconnected: jsg\.Error: Network connection lost\.$/,
  /^stack: (\S*workerd@[0-9a-f]+ ?)+$/,
];

/** The header note is one message, and a generated header value may hold a line break. */
const WHOLE_MESSAGE_NOISE =
  /^A header value for "[^"]*" contains non-ASCII characters: [\s\S]* implementations of the Fetch specification\.\n?$/;

type Write = (chunk: unknown, ...rest: unknown[]) => boolean;

/** The chunk without the lines of expected noise, or null when nothing else is left. */
function withoutNoise(chunk: unknown): unknown {
  const text =
    typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : undefined;
  if (text === undefined) return chunk;
  if (WHOLE_MESSAGE_NOISE.test(text)) return null;
  const lines = text.split("\n");
  const kept = lines.filter((line) => !EXPECTED_NOISE.some((re) => re.test(line)));
  if (kept.length === lines.length) return chunk;
  if (kept.every((line) => line === "")) return null;
  return kept.join("\n");
}

/** Both streams: the integration writes runtime lines it cannot parse to stdout, warnings to stderr. */
export function setup(): () => void {
  if (process.env.KEYGATE_TEST_VERBOSE === "1") return () => {};
  const restore: (() => void)[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write;
    const write = original.bind(stream) as Write;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const kept = withoutNoise(chunk);
      if (kept === null) {
        (rest.find((r) => typeof r === "function") as (() => void) | undefined)?.();
        return true;
      }
      return write(kept, ...rest);
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = original;
    });
  }
  return () => {
    for (const r of restore) r();
  };
}
