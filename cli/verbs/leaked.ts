/**
 * `leaked --file found.txt [--source NAME] [--location URL]` (docs/leaked-keys.md): report
 * the tokens a scanner found, one a line, as leaked. Each that is a key of this gateway is
 * revoked, disabled or only marked, as the gateway's LEAKED_KEY_ACTION says. Remote: POST
 * {ADMIN_PREFIX}/leaks (KEYGATE_ADMIN_TOKEN may be an admin token or LEAK_REPORT_TOKEN);
 * local: the management core on local state.
 *
 * The file is read before anything else opens; tokens go in reports of LEAKED_BATCH, and a
 * report that needs more than one request's share of KV ("unavailable") is sent again, as
 * reports are idempotent, until it is done. What is printed names tokens by their line in
 * the file, never by their value.
 */
import { parseLeakReport } from "../../src/manage/leaks";
import type { Json, Options } from "../args";
import { precheck, readFileFlag, UsageError } from "../args";
import type { Answer, Backend } from "../backends/backend";
import { leakedHuman } from "../render";
import type { Verb } from "../run";

export const LEAKED_FLAGS = {
  file: { type: "string" },
  source: { type: "string" },
  location: { type: "string" },
} as const satisfies Options;

/** Tokens per report: a request's KV share covers this many revocations of single-org keys. */
export const LEAKED_BATCH = 100;
/** Times one batch is sent again after "unavailable" (each time it goes further). */
const MAX_RESENDS = 50;

/** The tokens of a file, one a line (blank lines skipped), with their line numbers. */
export function tokensOf(text: string): { token: string; line: number }[] {
  const out: { token: string; line: number }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const token = raw.trim();
    if (token !== "") out.push({ token, line: i + 1 });
  });
  return out;
}

/** Send one batch until it is done, or refused otherwise than "unavailable". */
async function sendBatch(b: Backend, body: Json): Answer {
  for (let attempt = 0; ; attempt++) {
    const answer = await b.leaked(body);
    if (answer.ok || answer.error !== "unavailable" || attempt >= MAX_RESENDS) return answer;
  }
}

export const LEAKED_VERB: Verb = {
  options: LEAKED_FLAGS,
  positionals: false,
  plan({ values }) {
    const file = values.file as string | undefined;
    if (file === undefined)
      throw new UsageError(
        "--file is required: the tokens found, one a line (npm run keys -- leaked --file found.txt)",
      );
    const text = readFileFlag(file);
    const found = tokensOf(text);
    if (found.length === 0) throw new UsageError(`--file: "${file}" holds no token (one a line)`);
    const extra: Json = {
      source: (values.source as string | undefined) ?? "cli",
      ...(values.location !== undefined ? { url: values.location } : {}),
    };
    // --source and --location checked as the core checks them, before anything opens (one batch's worth of tokens).
    precheck(parseLeakReport({ tokens: found.slice(0, LEAKED_BATCH).map((f) => f.token), ...extra }));
    return {
      call: async (b) => {
        const results: unknown[] = [];
        for (let i = 0; i < found.length; i += LEAKED_BATCH) {
          const batch = found.slice(i, i + LEAKED_BATCH).map((f) => f.token);
          const answer = await sendBatch(b, { tokens: batch, ...extra });
          if (!answer.ok) return answer;
          results.push(...(answer.value.results as unknown[]));
        }
        return { ok: true, value: { results } };
      },
      human: (v) =>
        leakedHuman(
          v,
          found.map((f) => f.line),
          file,
        ),
    };
  },
};
