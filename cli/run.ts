/**
 * Running one command line: pick the verb, parse its flags (cli/args.ts), build its plan
 * from the flags alone (so bad usage fails before any state is opened), open the backend
 * (cli/backends/), call it, print the answer (cli/render.ts). The same rules for every verb
 * and verb group (`tokens …`):
 *
 * - exit 0: the answer on stdout (a summary, or --json the API's answer on one line);
 * - exit 1 (not found, refused, unreachable): one `error:` line on stderr;
 * - exit 2 (bad usage): one `error:` line per problem, then "see `… --help`", stdout empty.
 */
import type { Json, Options, Parsed } from "./args";
import { fieldErrors, parseVerb, Refused, UsageError, usageErrorText } from "./args";
import type { Answer, Backend, OpenBackend } from "./backends/backend";
import { openBackend } from "./backends/open";
import { output } from "./render";

/** What a verb will do, built from its flags alone. */
export interface Plan {
  /** `io`: for a verb that reports progress as it goes (a bulk import), on stderr. */
  call(backend: Backend, io: Io): Answer;
  human(value: Json): string;
  /** The exit code of an answer that came back (default 0): a bulk import with bad lines says 1. */
  exitCode?(value: Json): number;
  /** What the answer is, for a person, on stderr (without --json): stdout stays the value alone. */
  note?(value: Json): string;
}

export interface Verb {
  options: Options;
  positionals: boolean;
  plan(p: Parsed): Plan;
  /** The verb's own names for the API's fields in messages, where they differ from cli/args.ts FLAG_OF. */
  fields?: Readonly<Record<string, string>>;
}

/** A set of verbs with its own usage text (`npm run keys -- …`, `npm run keys -- tokens …`). */
export interface Command {
  /** "" for the top level, "tokens" for `npm run keys -- tokens …`. */
  name: string;
  usage: string;
  verbs: Record<string, Verb>;
  /** Verb groups with their own usage, e.g. tokens. */
  groups?: Record<string, Command>;
  /** How --url's token is named in messages ("root admin token" for tokens). */
  tokenKind?: string;
}

export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  open: OpenBackend;
  env: Record<string, string | undefined>;
  /** stderr is a terminal: progress redraws one line (else it prints a line now and then). */
  tty?: boolean;
}

export const processIo: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  open: openBackend,
  env: process.env,
  tty: process.stderr.isTTY === true,
};

function helpCommand(cmd: Command): string {
  return `npm run keys -- ${cmd.name ? `${cmd.name} ` : ""}--help`;
}

/** Run `argv` (everything after the command's name) against `cmd`. Returns the exit code. */
export async function run(cmd: Command, argv: string[], io: Io = processIo): Promise<number> {
  const [verb, ...rest] = argv;
  const group = verb === undefined ? undefined : cmd.groups?.[verb];
  if (group) return run(group, rest, io);
  if (!verb || verb === "help" || verb === "--help" || verb === "-h") {
    // No verb at all is bad usage: the usage goes to stderr, stdout stays empty.
    (verb ? io.stdout : io.stderr)(cmd.usage);
    return verb ? 0 : 2;
  }
  const spec = Object.hasOwn(cmd.verbs, verb) ? cmd.verbs[verb] : undefined;
  if (!spec) {
    const known = [...Object.keys(cmd.verbs), ...Object.keys(cmd.groups ?? {})].join(", ");
    io.stderr(
      usageErrorText(
        `unknown ${cmd.name ? `${cmd.name} ` : ""}verb "${verb}": expected one of ${known}`,
        helpCommand(cmd),
      ),
    );
    return 2;
  }
  let backend: Backend | undefined;
  try {
    const parsed = parseVerb(verb, rest, spec.options, spec.positionals);
    if (parsed.values.help) {
      io.stdout(cmd.usage);
      return 0;
    }
    const plan = spec.plan(parsed);
    backend = await io.open(parsed.values, { env: io.env, ...(cmd.tokenKind ? { tokenKind: cmd.tokenKind } : {}) });
    const outcome = await plan.call(backend, io);
    if (!outcome.ok) {
      if (outcome.error === "invalid") throw fieldErrors(outcome.errors, spec.fields);
      throw new Refused(outcome.message);
    }
    io.stdout(output(outcome.value, parsed.values.json === true, plan.human));
    if (plan.note && parsed.values.json !== true) io.stderr(plan.note(outcome.value));
    return plan.exitCode?.(outcome.value) ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(usageErrorText(err.message, helpCommand(cmd)));
      return 2;
    }
    if (err instanceof Refused) {
      io.stderr(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await backend?.close();
  }
}
