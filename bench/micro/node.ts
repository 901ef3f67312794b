/**
 * The same micro-benchmark under Node's V8, for comparison with the workerd figures.
 * KV is never read on these paths once the cache is warm; this in-memory KvLike only
 * serves the one record the setup writes. console.log is silenced while it runs.
 */
import type { KvLike } from "../../src/keys/store/kv";
import { runMicro } from "./cases";
import type { MicroCase } from "./types";

export async function runMicroNode(vars: Record<string, string>): Promise<MicroCase[]> {
  const values = new Map<string, string>();
  const kv: KvLike = {
    async get(key) {
      const v = values.get(key);
      return v === undefined ? null : JSON.parse(v);
    },
    async put(key, value) {
      values.set(key, value);
    },
    async delete(key) {
      values.delete(key);
    },
    async list({ prefix }) {
      return {
        keys: [...values.keys()].filter((k) => k.startsWith(prefix)).map((name) => ({ name })),
        list_complete: true,
      };
    },
  };
  // Keep the access-log lines off the terminal: under Node the log case is the JSON
  // serialisation alone.
  const log = console.log;
  console.log = () => {};
  try {
    return await runMicro(async () => performance.now(), { KEYS: kv, vars });
  } finally {
    console.log = log;
  }
}
