/**
 * keygate keys CLI: `npm run keys -- <verb> [flags]` (usage: `npm run keys -- --help`).
 *
 * The CLI, by concern:
 * - cli/main.ts: the command (usage text, verbs); cli/run.ts runs one command line;
 * - cli/args.ts: flags, flag values → admin API fields, usage errors;
 * - cli/verbs/: keys, orgs, usage, tokens — each builds an admin API body from its flags;
 * - cli/backends/: one Backend interface; local state (default) or --url's admin API;
 * - cli/render.ts: tables and summaries, or --json the API's answer.
 *
 * Exit codes: 0 ok, 1 not found or refused, 2 bad usage.
 */
import { main } from "./main";

process.exitCode = await main(process.argv.slice(2));
