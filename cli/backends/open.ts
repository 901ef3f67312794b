/** How the CLI picks a backend (backend.ts) from the common flags: --url → remote, otherwise local state. */
import { LOCAL_FLAGS, UsageError } from "../args";
import type { OpenBackend } from "./backend";

/** The backend the flags ask for: --url → remote, otherwise local state. */
export const openBackend: OpenBackend = async (values, opts = {}) => {
  if (values.url === undefined) {
    const { localBackend } = await import("./local");
    return localBackend({
      configPath: values.config as string | undefined,
      environment: values.env as string | undefined,
      persistTo: values["persist-to"] as string | undefined,
    });
  }
  for (const local of LOCAL_FLAGS) {
    if (values[local] !== undefined)
      throw new UsageError(`--${local} is for local state; it cannot be combined with --url`);
  }
  const token = (opts.env ?? process.env).KEYGATE_ADMIN_TOKEN;
  if (!token)
    throw new UsageError(
      `--url needs the gateway's ${opts.tokenKind ?? "admin token"} in the KEYGATE_ADMIN_TOKEN environment variable`,
    );
  const { remoteBackend } = await import("./remote");
  return remoteBackend(values.url as string, token);
};
