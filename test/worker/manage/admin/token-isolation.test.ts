/**
 * Token isolation between orgs, for every admin endpoint: a write token for org A against
 * org B's keys, B's audit log and the token endpoints. A request naming another org is
 * 403; a key id it may not see is 404 byte-identical to an unknown id; nothing of B's
 * changes. Then what a token for A does see, and tokens for several orgs or for "*".
 */
import { describe, expect, it } from "vitest";
import { send } from "../../../support/worker-helpers";
import { adminEnv, api, createViaApi, mintToken, uniqueOrg } from "./support";

const MISSING_ID = "key_00000000000000000000";

interface World {
  a: string;
  b: string;
  keyA: any;
  keyB: any;
  shared: any;
  tokA: { token: string; id: string };
  tokB: { token: string; id: string };
}

async function world(): Promise<World> {
  const [a, b] = [uniqueOrg(), uniqueOrg()];
  return {
    a,
    b,
    keyA: await createViaApi({ orgs: [a], name: "a's" }),
    keyB: await createViaApi({ orgs: [b], name: "b's" }),
    shared: await createViaApi({ orgs: [a, b], name: "shared" }),
    tokA: await mintToken({ orgs: [a], role: "write" }),
    tokB: await mintToken({ orgs: [b], role: "write" }),
  };
}

/** The raw answer to a request with a token: status, content type and exact body text. */
async function raw(
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; type: string | null; text: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await send(
    path,
    { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) },
    adminEnv(),
  );
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

type Expect = { status: 403 } | { sameAs: (w: World) => string };
interface Case {
  what: string;
  method: string;
  path: (w: World) => string;
  body?: (w: World) => unknown;
  expect: Expect;
}

/** Every admin endpoint, aimed at org B by a write token for org A. */
const CASES: Case[] = [
  {
    what: "create a key in B",
    method: "POST",
    path: () => "/_keygate/keys",
    body: (w) => ({ orgs: [w.b] }),
    expect: { status: 403 },
  },
  {
    what: "create a key in A and B",
    method: "POST",
    path: () => "/_keygate/keys",
    body: (w) => ({ orgs: [w.a, w.b] }),
    expect: { status: 403 },
  },
  {
    what: "import a key into B",
    method: "POST",
    path: () => "/_keygate/keys/import",
    body: (w) => ({ key: crypto.randomUUID(), orgs: [w.b] }),
    expect: { status: 403 },
  },
  { what: "list B's keys", method: "GET", path: (w) => `/_keygate/keys?org=${w.b}`, expect: { status: 403 } },
  {
    what: "show B's key",
    method: "GET",
    path: (w) => `/_keygate/keys/${w.keyB.id}`,
    expect: { sameAs: () => `/_keygate/keys/${MISSING_ID}` },
  },
  {
    what: "update B's key",
    method: "PATCH",
    path: (w) => `/_keygate/keys/${w.keyB.id}`,
    body: () => ({ name: "pwned" }),
    expect: { sameAs: () => `/_keygate/keys/${MISSING_ID}` },
  },
  {
    what: "move A's key into B too",
    method: "PATCH",
    path: (w) => `/_keygate/keys/${w.keyA.id}`,
    body: (w) => ({ orgs: [w.a, w.b] }),
    expect: { status: 403 },
  },
  {
    what: "move A's key to B",
    method: "PATCH",
    path: (w) => `/_keygate/keys/${w.keyA.id}`,
    body: (w) => ({ orgs: [w.b] }),
    expect: { status: 403 },
  },
  {
    what: "rotate B's key",
    method: "POST",
    path: (w) => `/_keygate/keys/${w.keyB.id}/rotate`,
    expect: { sameAs: () => `/_keygate/keys/${MISSING_ID}/rotate` },
  },
  {
    what: "revoke B's key",
    method: "DELETE",
    path: (w) => `/_keygate/keys/${w.keyB.id}`,
    expect: { sameAs: () => `/_keygate/keys/${MISSING_ID}` },
  },
  {
    what: "change the key shared with B",
    method: "PATCH",
    path: (w) => `/_keygate/keys/${w.shared.id}`,
    body: () => ({ name: "pwned" }),
    expect: { status: 403 },
  },
  {
    what: "rotate the key shared with B",
    method: "POST",
    path: (w) => `/_keygate/keys/${w.shared.id}/rotate`,
    expect: { status: 403 },
  },
  {
    what: "revoke the key shared with B",
    method: "DELETE",
    path: (w) => `/_keygate/keys/${w.shared.id}`,
    expect: { status: 403 },
  },
  {
    what: "read B's key's audit events",
    method: "GET",
    path: (w) => `/_keygate/audit?key_id=${w.keyB.id}`,
    expect: { sameAs: () => `/_keygate/audit?key_id=${MISSING_ID}` },
  },
  { what: "read B's audit log", method: "GET", path: (w) => `/_keygate/audit?org=${w.b}`, expect: { status: 403 } },
  { what: "list tokens", method: "GET", path: () => "/_keygate/tokens", expect: { status: 403 } },
  {
    what: "mint a token (even for its own org)",
    method: "POST",
    path: () => "/_keygate/tokens",
    body: (w) => ({ name: "x", orgs: [w.a], role: "write" }),
    expect: { status: 403 },
  },
  { what: "revoke B's token", method: "DELETE", path: (w) => `/_keygate/tokens/${w.tokB.id}`, expect: { status: 403 } },
  {
    what: "revoke its own token",
    method: "DELETE",
    path: (w) => `/_keygate/tokens/${w.tokA.id}`,
    expect: { status: 403 },
  },
];

describe("a write token for org A, aimed at org B: every admin endpoint", () => {
  for (const c of CASES) {
    it(`${c.what}: ${"status" in c.expect ? "403" : "answered exactly like an unknown id"}`, async () => {
      const w = await world();
      const got = await raw(w.tokA.token, c.method, c.path(w), c.body?.(w));
      if ("status" in c.expect) {
        expect(got.status).toBe(403);
        expect(got.type).toBe("application/problem+json");
        expect(JSON.parse(got.text)).toMatchObject({ status: 403, code: "forbidden" });
      } else {
        const unknown = await raw(w.tokA.token, c.method, c.expect.sameAs(w), c.body?.(w));
        expect(unknown.status).toBeGreaterThanOrEqual(200);
        expect(got).toEqual(unknown);
        if (c.path(w).startsWith("/_keygate/audit")) expect(JSON.parse(got.text)).toEqual({ events: [], cursor: null });
        else expect(got.status).toBe(404);
      }
      // Nothing of B's changed: its key, its listing, its audit log; the key still works.
      const shownB = (await api("GET", `/_keygate/keys/${w.keyB.id}`)).json;
      expect(shownB).toMatchObject({ name: "b's", orgs: [w.b], status: "active" });
      const shared = (await api("GET", `/_keygate/keys/${w.shared.id}`)).json;
      expect(shared).toMatchObject({ name: "shared", orgs: [w.a, w.b], status: "active" });
      expect((await api("GET", `/_keygate/keys/${w.keyA.id}`)).json.orgs).toEqual([w.a]);
      const listedB = (await api("GET", `/_keygate/keys?org=${w.b}`)).json.keys.map((k: any) => k.id).sort();
      expect(listedB).toEqual([w.keyB.id, w.shared.id].sort());
      const eventsB = (await api("GET", `/_keygate/audit?org=${w.b}`)).json.events;
      expect(eventsB.filter((e: any) => e.actor !== "root")).toEqual([]);
      expect((await send("/things", { headers: { "x-api-key": w.keyB.key } }, adminEnv())).status).toBe(200);
      const tokens = (await api("GET", "/_keygate/tokens?limit=1000")).json.tokens;
      expect(tokens.filter((t: any) => t.id === w.tokA.id || t.id === w.tokB.id).map((t: any) => t.status)).toEqual([
        "active",
        "active",
      ]);
    });
  }

  it("a read token for A gets the same answers for B's resources (403 for writes by role)", async () => {
    const w = await world();
    const read = await mintToken({ orgs: [w.a], role: "read" });
    expect((await raw(read.token, "GET", `/_keygate/keys?org=${w.b}`)).status).toBe(403);
    const shown = await raw(read.token, "GET", `/_keygate/keys/${w.keyB.id}`);
    expect(shown).toEqual(await raw(read.token, "GET", `/_keygate/keys/${MISSING_ID}`));
    expect(shown.status).toBe(404);
    expect((await raw(read.token, "GET", `/_keygate/audit?org=${w.b}`)).status).toBe(403);
    expect((await raw(read.token, "GET", "/_keygate/tokens")).status).toBe(403);
  });
});

describe("what a token for A sees", () => {
  it("its org's keys (and keys shared with it), without naming the org; never B's", async () => {
    const w = await world();
    const t = { token: w.tokA.token };
    const listed = (await api("GET", "/_keygate/keys", t)).json;
    expect(listed.keys.map((k: any) => k.id).sort()).toEqual([w.keyA.id, w.shared.id].sort());
    const same = (await api("GET", `/_keygate/keys?org=${w.a}`, t)).json;
    expect(same).toEqual(listed);
    expect((await api("GET", `/_keygate/keys/${w.shared.id}`, t)).res.status).toBe(200);
    // Its audit log without naming the org: A's events only (the shared key's too).
    const events = (await api("GET", "/_keygate/audit", t)).json.events;
    expect(events.map((e: any) => e.key_id).sort()).toEqual([w.keyA.id, w.shared.id].sort());
    for (const e of events) expect(e.orgs).toContain(w.a);
  });

  it("a key leaving A disappears from A's token at once", async () => {
    const w = await world();
    await api("PATCH", `/_keygate/keys/${w.shared.id}`, { body: { orgs: [w.b] } });
    const shown = await raw(w.tokA.token, "GET", `/_keygate/keys/${w.shared.id}`);
    expect(shown).toEqual(await raw(w.tokA.token, "GET", `/_keygate/keys/${MISSING_ID}`));
    expect((await api("GET", "/_keygate/keys", { token: w.tokA.token })).json.keys.map((k: any) => k.id)).toEqual([
      w.keyA.id,
    ]);
  });
});

describe('tokens for several orgs, and for every org ("*")', () => {
  it("several orgs: must name one to list keys or audit events (400); acts in each", async () => {
    const w = await world();
    const c = uniqueOrg();
    const tok = await mintToken({ orgs: [w.a, c], role: "write" });
    const t = { token: tok.token };
    const list = await api("GET", "/_keygate/keys", t);
    expect(list.res.status).toBe(400);
    expect(list.json.errors.map((e: any) => e.field)).toEqual(["org"]);
    expect((await api("GET", "/_keygate/audit", t)).res.status).toBe(400);
    expect((await api("GET", `/_keygate/keys?org=${w.a}`, t)).json.keys).toHaveLength(2);
    const created = await api("POST", "/_keygate/keys", { ...t, body: { orgs: [w.a, c] } });
    expect(created.res.status).toBe(201);
    // A key in A and B is still outside: B is not among its orgs.
    expect((await api("DELETE", `/_keygate/keys/${w.shared.id}`, t)).res.status).toBe(403);
  });

  it('"*": every org\'s keys, listed across orgs; never the token endpoints or token events', async () => {
    const w = await world();
    const tok = await mintToken({ orgs: ["*"], role: "write" });
    const t = { token: tok.token };
    expect((await api("GET", `/_keygate/keys/${w.keyB.id}`, t)).res.status).toBe(200);
    expect((await api("PATCH", `/_keygate/keys/${w.shared.id}`, { ...t, body: { name: "ok" } })).res.status).toBe(200);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const { json }: { json: any } = await api(
        "GET",
        `/_keygate/keys?limit=250&status=active${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        t,
      );
      seen.push(...json.keys.map((k: any) => k.id));
      cursor = json.cursor;
    } while (cursor !== null);
    for (const id of [w.keyA.id, w.keyB.id, w.shared.id]) expect(seen).toContain(id);
    expect((await api("GET", "/_keygate/tokens", t)).res.status).toBe(403);
    expect(
      (await api("POST", "/_keygate/tokens", { ...t, body: { name: "x", orgs: ["*"], role: "write" } })).res.status,
    ).toBe(403);
    // The whole log, minus token events (root sees them).
    const root = (await api("GET", "/_keygate/audit?limit=50")).json.events;
    expect(root.some((e: any) => e.token_id)).toBe(true);
    const mine = (await api("GET", "/_keygate/audit?limit=50", t)).json.events;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.some((e: any) => e.token_id)).toBe(false);
  });
});
