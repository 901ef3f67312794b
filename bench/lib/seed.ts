/**
 * Mint many keys fast: the records are built by the same issueKey() the CLI uses, then
 * written in batches by a small seeding Worker on the same persisted KV state that
 * `wrangler dev --persist-to DIR` (and the workerd runs) read. 100k keys through the
 * CLI would take hours; this takes seconds.
 */

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { issueKey } from "../../src/keys/issue";
import type { KvLike } from "../../src/keys/store/kv";
import { kvKey } from "../../src/keys/store/kv";
import { gatewayToml, Miniflare, ROOT } from "./miniflare";

const RECORD_PREFIX = kvKey.record("");

const SEED_WORKER = `export default {
  async fetch(request, env) {
    const entries = await request.json();
    await Promise.all(entries.map(([key, value, metadata]) =>
      env.KEYS.put(key, value, metadata === undefined ? undefined : { metadata })));
    return new Response(String(entries.length));
  },
};`;

/** Entries per seeding request: well under a Worker's 1,000 KV operations per invocation. */
const BATCH = 300;
const PARALLEL_BATCHES = 4;

export interface Seeded {
  keys: string[];
  seconds: number;
}

/** Mint `count` keys (org "bench", scope "read") into the KEYS state under `persistTo`. */
export async function seedKeys(
  persistTo: string,
  count: number,
  settings: { prefix: string; pepper?: string },
): Promise<Seeded> {
  const started = Date.now();
  const { compatibilityDate, kvNamespaceId } = gatewayToml();
  const mf = new Miniflare({
    modules: true,
    script: SEED_WORKER,
    compatibilityDate,
    kvNamespaces: { KEYS: kvNamespaceId },
    defaultPersistRoot: path.join(persistTo, "v3"),
    handleStructuredLogs: () => {},
  });
  try {
    const keys: string[] = [];
    let entries: [string, string, unknown][] = [];
    const collector: KvLike = {
      get: async () => null, // fresh 190-bit keys: no conflict to look for
      // Only the records: the gateway reads nothing else (the id and org index entries
      // serve the admin side), and each KV write costs ~1 ms in the local simulator.
      put: async (key, value, options) => {
        if (key.startsWith(RECORD_PREFIX)) entries.push([key, value, options?.metadata]);
      },
      delete: async () => {},
      list: async () => ({ keys: [], list_complete: true }),
    };
    const inFlight = new Set<Promise<void>>();
    const flush = async () => {
      const batch = entries;
      entries = [];
      const p = (async () => {
        const res = await mf.dispatchFetch("http://seed.local/", { method: "POST", body: JSON.stringify(batch) });
        if (!res.ok) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
        await res.arrayBuffer();
      })();
      inFlight.add(p);
      p.finally(() => inFlight.delete(p)).catch(() => {});
      if (inFlight.size >= PARALLEL_BATCHES) await Promise.race(inFlight);
    };
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const { key } = await issueKey(
        collector,
        settings,
        { name: `bench ${i}`, orgs: ["bench"], scopes: ["read"], expires_at: null },
        now,
      );
      keys.push(key);
      if (entries.length >= BATCH) await flush();
    }
    if (entries.length) await flush();
    await Promise.all(inFlight);
    return { keys, seconds: (Date.now() - started) / 1000 };
  } finally {
    await mf.dispose();
  }
}

/**
 * A seeded state folder, reused across runs: minting 100k keys costs minutes in the local
 * KV simulator. The folder name carries a fingerprint of the key settings and of the code
 * that builds records and hashes, so a change to either seeds afresh. It holds the test
 * keys in plaintext (keys.json): local benchmark keys only, under bench/results/ (ignored
 * by git).
 */
export async function seededState(
  root: string,
  name: string,
  count: number,
  settings: { prefix: string; pepper?: string },
  opts: { fresh?: boolean; log?: (msg: string) => void } = {},
): Promise<{ dir: string; keys: string[] }> {
  const fingerprint = createHash("sha256")
    .update(JSON.stringify({ prefix: settings.prefix, pepper: settings.pepper ?? null, count }))
    .update(
      // What builds a seeded record (src/keys/store.ts became src/keys/store/ in issue 19).
      ["format", "hash", "issue", "record", "store/kv", "store/records", "store/listings"]
        .map((f) => readFileSync(path.join(ROOT, `src/keys/${f}.ts`), "utf8"))
        .join("\0"),
    )
    .digest("hex")
    .slice(0, 12);
  const dir = path.join(root, `${name}-${fingerprint}`);
  const keysFile = path.join(dir, "keys.json");
  if (!opts.fresh && existsSync(keysFile)) {
    opts.log?.(`reusing ${count} seeded key(s) for ${name} (${path.relative(ROOT, dir)})`);
    return { dir, keys: JSON.parse(readFileSync(keysFile, "utf8")) as string[] };
  }
  rmSync(dir, { recursive: true, force: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const seeded = await seedKeys(tmp, count, settings);
  writeFileSync(path.join(tmp, "keys.json"), JSON.stringify(seeded.keys));
  renameSync(tmp, dir);
  opts.log?.(`seeded ${count} key(s) for ${name} in ${seeded.seconds.toFixed(1)} s`);
  return { dir, keys: seeded.keys };
}
