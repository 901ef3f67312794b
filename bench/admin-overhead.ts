/**
 * What the admin API and last-used accounting add to every gateway request, measured in
 * Node (V8, like workerd) per call: the admin prefix check Hono's getPath runs on the
 * normalized path (normalized once per request, shared with the gateway), the last-used
 * throttle's claim, and sunsetOf. The baseline, in the same run, is the URL parse +
 * normalizePath the gateway already did per request before this change.
 *
 *   npx tsx bench/admin-overhead.ts [rounds=7] [iterations=200000]
 *
 * Prints the median ns per call of each, over the rounds.
 */

import { LastUsedThrottle } from "../src/edge/auth/last-used";
import { normalizePath } from "../src/edge/routes/normalize";
import type { KeyRecord } from "../src/keys/record";
import { sunsetOf } from "../src/keys/record";
import { adminPath } from "../src/manage/admin/prefix";

const rounds = Number(process.argv[2] ?? 7);
const iterations = Number(process.argv[3] ?? 200_000);

const URLS = [
  "https://gw.example.com/v1/things?limit=5",
  "https://gw.example.com/api/v1/samples/abc123/analyses",
  "https://gw.example.com/api/prompts?projectSlug=p",
  "https://gw.example.com/health",
];
const admin = { prefix: "/_keygate", segments: ["_keygate"], token: null };
const record: KeyRecord = {
  v: 1,
  id: "key_7Fq2Lr9XcB3mNp8TzK1a",
  name: "ci",
  orgs: ["acme"],
  scopes: ["read"],
  start: "kg_AbCd",
  created_at: "2026-01-01T00:00:00.000Z",
  expires_at: "2027-01-01T00:00:00.000Z",
  disabled: false,
  revoked_at: null,
};

let sink = 0;
function time(fn: (i: number) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / iterations;
}

const cases: Record<string, (i: number) => void> = {
  "baseline: new URL + normalizePath (already per request)": (i) => {
    const r = normalizePath(new URL(URLS[i & 3]!).pathname);
    sink += r.ok ? r.path.length : 0;
  },
  "added: adminPath on the normalized path": (() => {
    const paths = URLS.map((u) => (normalizePath(new URL(u).pathname) as { path: string }).path);
    return (i: number) => void (sink += adminPath(admin, paths[i & 3]!) === null ? 1 : 0);
  })(),
  "added: LastUsedThrottle.claim (1,000 keys, mostly throttled)": (() => {
    const t = new LastUsedThrottle();
    const ids = Array.from({ length: 1000 }, (_, k) => `key_${String(k).padStart(20, "0")}`);
    return (i: number) => void (sink += t.claim(ids[i % 1000]!, 1_000_000 + i, 60_000) ? 1 : 0);
  })(),
  "added: sunsetOf (key with an expiry)": (i) => {
    sink += sunsetOf(record, 1_780_000_000_000 + i, 7 * 86_400_000) === null ? 0 : 1;
  },
};

const results: Record<string, number[]> = {};
for (const name of Object.keys(cases)) results[name] = [];
for (let r = 0; r < rounds + 1; r++) {
  for (const [name, fn] of Object.entries(cases)) {
    const ns = time(fn);
    if (r > 0) results[name]!.push(ns); // round 0 warms the JIT
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(results[Object.keys(cases)[0]!]!);
console.log(`node ${process.version}, ${rounds} rounds × ${iterations} calls, median ns/call`);
for (const [name, xs] of Object.entries(results)) {
  console.log(`${median(xs).toFixed(0).padStart(6)} ns  ${(median(xs) / base).toFixed(2)}× baseline  ${name}`);
}
if (sink === -1) console.log(sink);
