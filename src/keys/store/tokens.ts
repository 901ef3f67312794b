/**
 * Scoped admin tokens (keys/token.ts): the record under the token's hash (what the admin
 * API's authentication reads) and an id pointer whose metadata is the record (what a
 * listing reads; it holds no secret).
 */
import type { TokenRecord } from "../record";
import { isTokenRecord } from "../record";
import type { KvLike, Page } from "./kv";
import { HASH_RE, KV_LIST_MAX, kvCall, kvKey, kvList, StoreFault } from "./kv";

/**
 * The record of the token whose hash is `hash`, or null. Throws StoreFault when KV fails
 * or holds something that is not a token record (fail closed).
 */
export async function readToken(kv: KvLike, hash: string): Promise<TokenRecord | null> {
  const value = await kvCall("get", () => kv.get(kvKey.token(hash), { type: "json" }));
  if (value === null) return null;
  if (!isTokenRecord(value)) throw new StoreFault("KV value under a token hash is not a valid token record");
  return value;
}

/**
 * Store a token: the record under its hash (what authentication reads), then the id
 * pointer, whose metadata is the record itself (what a listing reads; it holds no secret).
 * Also used to rewrite both after a revocation.
 */
export async function writeToken(kv: KvLike, hash: string, record: TokenRecord): Promise<void> {
  await kvCall("put", () => kv.put(kvKey.token(hash), JSON.stringify(record)));
  await kvCall("put", () => kv.put(kvKey.tokenPointer(record.id), JSON.stringify({ hash }), { metadata: record }));
}

/** A token by its public id, with its hash; null when unknown. */
export async function findTokenById(kv: KvLike, id: string): Promise<{ hash: string; record: TokenRecord } | null> {
  const pointer = await kvCall("get", () => kv.get(kvKey.tokenPointer(id), { type: "json" }));
  if (pointer === null) return null;
  const hash = (pointer as { hash?: unknown }).hash;
  if (typeof hash !== "string" || !HASH_RE.test(hash))
    throw new StoreFault(`KV value under ${kvKey.tokenPointer(id)} is not a hash pointer`);
  const record = await readToken(kv, hash);
  if (record === null || record.id !== id)
    throw new StoreFault(`${kvKey.tokenPointer(id)} does not point to its token`);
  return { hash, record };
}

/** One page of tokens, from the id pointers' metadata (a damaged one is read from its record). */
export async function listTokenRecords(kv: KvLike, limit: number, cursor: string | null): Promise<Page<TokenRecord>> {
  const prefix = kvKey.tokenPointerPrefix();
  const page = await kvList(kv, prefix, Math.min(limit, KV_LIST_MAX), cursor);
  const items: TokenRecord[] = [];
  for (const entry of page.keys) {
    if (isTokenRecord(entry.metadata)) items.push(entry.metadata);
    else {
      const found = await findTokenById(kv, entry.name.slice(prefix.length));
      if (found) items.push(found.record);
    }
  }
  return { items, cursor: page.list_complete ? null : (page.cursor ?? null) };
}
