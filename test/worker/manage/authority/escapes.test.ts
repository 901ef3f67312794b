/**
 * The escapes of issue 18's review, each with the review's own requests, through the real
 * worker (real KV, real Durable Objects, the real origin). Every test here fails on the code
 * before the management core (commit 46988b0): the surfaces then decided on their own.
 * (The replayed console form and the cookie after logout are part B's: console sessions.)
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clock } from "../../../../src/lib/clock";
import { revokeKey } from "../../../../src/manage/keys";
import { originCalls, probe, send } from "../../../support/worker-helpers";
import { claims, hs256 } from "../../edge/sessions/support";
import {
  adminCall,
  consoleAs,
  consoleGet,
  consolePost,
  formFields,
  hidden,
  jsonCall,
  manageEnv,
  names,
  PATH,
  rootKey,
  SESSION_COOKIE,
  selfServiceCall,
  TOKEN,
  UI,
  uniqueOrg,
} from "./support";

afterEach(() => vi.restoreAllMocks());

const E = manageEnv();
const PINNED = "203.0.113.0/24";
const INSIDE = "203.0.113.5";
const OUTSIDE = "198.51.100.7";
const DAY = 86_400_000;

/** A request through the gateway with a key, from an address; what the origin saw of it. */
async function gatewayCall(key: string, ip = INSIDE, path = "/things") {
  const id = probe();
  const res = await send(path, { headers: { "x-api-key": key, "cf-connecting-ip": ip, "x-probe": id } }, E);
  await res.text();
  return { status: res.status, credits: res.headers.get("x-credits-remaining"), calls: await originCalls(id) };
}

const asKey = (key: string, ip = INSIDE) => ({ "x-api-key": key, "cf-connecting-ip": ip });

/** Keys of an org, as root sees them. */
async function orgKeys(org: string): Promise<any[]> {
  return (await adminCall(TOKEN, "GET", `/keys?org=${org}&limit=1000`, undefined, E)).json.keys;
}

describe("issue 18: a key holder can never escape what the operator set", () => {
  it("the pinned key from another address: its own allowed_ips apply on the self-service API (list, create, revoke, regenerate: 403)", async () => {
    const org = uniqueOrg();
    const pinned = await rootKey(org, E, { name: "pinned", allowed_ips: [PINNED] });
    const victim = await rootKey(org, E, { name: "victim" });
    const from = (ip: string) => asKey(pinned.key, ip);
    for (const [method, path, body] of [
      ["GET", "", undefined],
      ["POST", "", { name: "minted from afar" }],
      ["DELETE", `/${victim.id}`, undefined],
      ["POST", `/${victim.id}/regenerate`, {}],
    ] as const) {
      const a = await selfServiceCall(from(OUTSIDE), method, path, body, E);
      expect(a.status, `${method} ${path}`).toBe(403);
      expect(a.json.detail).toBe("This API key may not be used from this address.");
    }
    expect((await orgKeys(org)).map((k) => k.name).sort()).toEqual(["pinned", "victim"]);
    expect((await gatewayCall(victim.key)).status).toBe(200); // neither revoked nor regenerated
    // From its own network, the same key works.
    expect((await selfServiceCall(from(INSIDE), "GET", "", undefined, E)).status).toBe(200);
  });

  it("the regenerate body with credits: a holder cannot refill its balance (400 naming credits); nothing is rotated", async () => {
    const org = uniqueOrg();
    const metered = await rootKey(org, E, { name: "metered", credits: { remaining: 3 } });
    expect((await gatewayCall(metered.key)).credits).toBe("2");
    const a = await selfServiceCall(
      asKey(metered.key),
      "POST",
      `/${metered.id}/regenerate`,
      { credits: { remaining: 999_999_999 }, grace_seconds: 2_592_000 },
      E,
    );
    expect(a.status).toBe(400);
    expect(names(a, "credits")).toBe(true);
    expect(a.json.detail).toMatch(/credits: is set by the operator/);
    const after = await gatewayCall(metered.key);
    expect(after.status).toBe(200);
    expect(after.credits).toBe("1"); // the same balance, not refilled
    // The key shows its live balance (issue 21): what is left of the same 3, not a refill.
    expect((await adminCall(TOKEN, "GET", `/keys/${metered.id}`, undefined, E)).json).toMatchObject({
      status: "active",
      credits: { remaining: 1 },
    });
  });

  it("a metered, limited, pinned, expiring key mints a key no more powerful than itself: same limits, same expiry, one shared balance", async () => {
    const org = uniqueOrg();
    const expires = new Date(Date.now() + 10 * DAY).toISOString();
    const parent = await rootKey(org, E, {
      name: "parent",
      credits: { remaining: 6 },
      rate_limit: { limit: 100, period_seconds: 60 },
      allowed_ips: [PINNED],
      expires_at: expires,
      scopes: ["read"],
    });
    const made = await selfServiceCall(asKey(parent.key), "POST", "", { name: "child" }, E);
    expect(made.status).toBe(201);
    expect(made.json).toMatchObject({ expires_at: expires, scopes: ["read"] });
    const child = (await adminCall(TOKEN, "GET", `/keys/${made.json.id}`, undefined, E)).json;
    expect(child).toMatchObject({
      rate_limit: { limit: 100, period_seconds: 60 },
      allowed_ips: [PINNED],
      expires_at: expires,
      credits: { remaining: 6 },
    });
    // Any address: no. The parent's network: yes, spending the parent's balance.
    expect((await gatewayCall(made.json.key, OUTSIDE)).status).toBe(403);
    expect((await gatewayCall(parent.key)).credits).toBe("5");
    expect((await gatewayCall(made.json.key)).credits).toBe("4");
    expect((await gatewayCall(parent.key)).credits).toBe("3");
    // One balance, exact under concurrency: 3 left, 8 requests of both keys at once → 3 forwarded.
    const id = probe();
    const burst = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        send(
          "/things",
          { headers: { "x-api-key": i % 2 ? parent.key : made.json.key, "cf-connecting-ip": INSIDE, "x-probe": id } },
          E,
        ),
      ),
    );
    await Promise.all(burst.map((r) => r.text()));
    expect(burst.filter((r) => r.status === 200)).toHaveLength(3);
    expect(burst.filter((r) => r.status === 429)).toHaveLength(5);
    expect(await originCalls(id)).toHaveLength(3);
  });

  it("a key at 0 credits is refused on the self-service API like on the gateway (429): it mints nothing", async () => {
    const org = uniqueOrg();
    const spent = await rootKey(org, E, { name: "spent", credits: { remaining: 0 } });
    const a = await selfServiceCall(asKey(spent.key), "POST", "", { name: "free key" }, E);
    expect(a.status).toBe(429);
    expect(a.headers.get("x-credits-remaining")).toBe("0");
    expect((await selfServiceCall(asKey(spent.key), "GET", "", undefined, E)).status).toBe(429);
    expect((await orgKeys(org)).map((k) => k.name)).toEqual(["spent"]);
  });

  it("the read session minting an admin key in the console: refused (403, the scope ceiling), nothing created — by /ui/session and by a portal link", async () => {
    const routes = manageEnv({ ROUTES: JSON.stringify([{ path: "/admin/*", scopes: ["admin"] }]) });
    for (const role of ["session", "portal"] as const) {
      const org = uniqueOrg();
      const s = await consoleAs(role, org, E, { scopes: "read" });
      // The create form as the page offers it, filled in as the review did.
      const form = await consoleGet(`${UI}/new`, s, E);
      expect(form.status).toBe(200);
      const a = await consolePost(
        `${UI}/keys`,
        { ...formFields(form.text, `${UI}/keys`), name: "escalated", scopes: "admin" },
        s,
        E,
      );
      expect(a.status, role).toBe(403);
      expect(a.text).toContain("You cannot grant the &quot;admin&quot; scope");
      expect(names(a, "scopes")).toBe(true);
      expect(await orgKeys(org)).toEqual([]);
      // Within the ceiling, it creates; the key cannot reach an admin route.
      const again = await consoleGet(`${UI}/new`, s, E);
      const ok = await consolePost(
        `${UI}/keys`,
        { ...formFields(again.text, `${UI}/keys`), name: "reader", scopes: "read" },
        s,
        E,
      );
      expect(ok.status).toBe(201);
      const key = /id="key-value">([^<]+)<\/code>/.exec(ok.text)![1]!;
      expect((await send("/admin/x", { headers: { "x-api-key": key } }, routes)).status).toBe(403);
    }
  });

  it("the * org claim: a session whose org claim is no org slug is no session (401) — it acts for no org, and is never forwarded as x-org-slug", async () => {
    const victimOrg = uniqueOrg();
    const victim = await rootKey(victimOrg, E, { name: "theirs" });
    for (const org of ["*", "acme,globex", "a b"]) {
      const jwt = await hs256(claims({ sub: "user_star", org_slug: org, scope: "read write" }));
      const headers = { cookie: `${SESSION_COOKIE}=${jwt}` };
      for (const [method, path] of [
        ["POST", `/${victim.id}/regenerate`],
        ["DELETE", `/${victim.id}`],
        ["GET", ""],
      ] as const) {
        const a = await selfServiceCall(headers, method, path, method === "POST" ? {} : undefined, E);
        expect(a.status, `${org} ${method} ${path}`).toBe(401);
      }
      const id = probe();
      const forwarded = await send("/things", { headers: { ...headers, "x-probe": id } }, E);
      expect(forwarded.status, org).toBe(401);
      expect(await originCalls(id)).toEqual([]);
      expect((await send(`${UI}/session`, { headers }, E)).status).toBe(401);
    }
    expect((await gatewayCall(victim.key)).status).toBe(200);
    expect((await adminCall(TOKEN, "GET", `/keys/${victim.id}`, undefined, E)).json.status).toBe("active");
  });

  it("the re-enable by a holder: portal and session users may disable their org's keys, never re-enable one (403); only an operator does", async () => {
    for (const role of ["portal", "session"] as const) {
      const org = uniqueOrg();
      const k = await rootKey(org, E, { name: "paused" });
      expect((await adminCall(TOKEN, "PATCH", `/keys/${k.id}`, { enabled: false }, E)).status).toBe(200);
      const s = await consoleAs(role, org, E);
      const page = await consoleGet(`${UI}/keys/${k.id}`, s, E);
      expect(page.text).not.toContain("Enable key");
      const a = await consolePost(`${UI}/keys/${k.id}/enable`, {}, s, E);
      expect(a.status, role).toBe(403);
      expect((await gatewayCall(k.key)).status).toBe(401);
      expect((await adminCall(TOKEN, "GET", `/keys/${k.id}`, undefined, E)).json.enabled).toBe(false);
      // Disabling stays theirs.
      const other = await rootKey(org, E, { name: "live" });
      expect((await consolePost(`${UI}/keys/${other.id}/disable`, {}, s, E)).status).toBe(303);
      expect((await gatewayCall(other.key)).status).toBe(401);
      // The operator re-enables.
      expect((await adminCall(TOKEN, "PATCH", `/keys/${k.id}`, { enabled: true }, E)).status).toBe(200);
      expect((await gatewayCall(k.key)).status).toBe(200);
    }
  });

  it("the 150-key burst: one key creates at most SELF_SERVICE_CREATE_PER_MINUTE (10) keys a minute; the rest are 429 naming the limit", async () => {
    const t = Math.floor(Date.now() / 60_000) * 60_000 + 1_000; // well inside one minute's window
    vi.spyOn(clock, "now").mockReturnValue(t);
    const org = uniqueOrg();
    const creator = await rootKey(org, E, { name: "creator" });
    const answers = [];
    for (let batch = 0; batch < 5; batch++) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 30 }, (_, i) =>
            selfServiceCall(asKey(creator.key), "POST", "", { name: `burst ${batch}-${i}` }, E),
          ),
        )),
      );
    }
    expect(answers.filter((a) => a.status === 201)).toHaveLength(10);
    const refused = answers.filter((a) => a.status === 429);
    expect(refused).toHaveLength(140);
    expect(refused[0]!.json.detail).toMatch(/at most 10 keys per minute each \(SELF_SERVICE_CREATE_PER_MINUTE\)/);
    expect(Number(refused[0]!.headers.get("retry-after"))).toBe(59);
    expect(await orgKeys(org)).toHaveLength(11);
    // Operators are not bounded.
    for (let i = 0; i < 12; i++)
      expect((await adminCall(TOKEN, "POST", "/keys", { orgs: [org], name: `op ${i}` }, E)).status).toBe(201);
  });

  it("the chained burst: a key that regenerates itself, or hands on to the key it mints, is still its creator — 10 a minute in all, then 429", async () => {
    const t = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
    vi.spyOn(clock, "now").mockReturnValue(t);
    const org = uniqueOrg();
    // Each regeneration's new key regenerates itself in turn (the old one stops at once).
    const first = await rootKey(org, E, { name: "chain" });
    let current = { id: first.id, key: first.key };
    const regenerated: number[] = [];
    for (let i = 0; i < 12; i++) {
      const a = await selfServiceCall(asKey(current.key), "POST", `/${current.id}/regenerate`, {}, E);
      regenerated.push(a.status);
      if (a.status !== 201) {
        expect(a.json.detail).toMatch(/at most 10 keys per minute each \(SELF_SERVICE_CREATE_PER_MINUTE\)/);
        continue;
      }
      current = { id: a.json.id, key: a.json.key };
    }
    expect(regenerated).toEqual([...Array(10).fill(201), 429, 429]);
    // The keys of the chain count against the key that started it, and say so to the operator.
    const shown = await adminCall(TOKEN, "GET", `/keys/${current.id}`, undefined, E);
    expect(shown.json.created_by).toBe(`key:${first.id}`);

    // Minting a key, then using that key to mint the next: the same one creator.
    const parent = await rootKey(org, E, { name: "parent" });
    let holder = parent.key;
    const minted: number[] = [];
    for (let i = 0; i < 12; i++) {
      const a = await selfServiceCall(asKey(holder), "POST", "", { name: `generation ${i}` }, E);
      minted.push(a.status);
      if (a.status === 201) holder = a.json.key;
    }
    expect(minted).toEqual([...Array(10).fill(201), 429, 429]);

    // A session's keys count against the session's user; an operator's rotation keeps the count's owner.
    const token = await hs256(claims({ sub: "user-chain", org_slug: org, scope: "read write" }, t));
    const session = { authorization: `Bearer ${token}` };
    const made = await selfServiceCall(session, "POST", "", { name: "by a session" }, E);
    expect(made.status).toBe(201);
    const rotated = await adminCall(TOKEN, "POST", `/keys/${made.json.id}/rotate`, {}, E);
    expect(rotated.status).toBe(201);
    expect(rotated.json.created_by).toBe("session:user-chain");
    for (let i = 0; i < 9; i++)
      expect((await selfServiceCall(asKey(rotated.json.key), "POST", "", { name: `s${i}` }, E)).status).toBe(201);
    expect((await selfServiceCall(session, "POST", "", { name: "eleventh" }, E)).status).toBe(429);
    // Operators are not bounded, and the keys they make are creators of their own.
    const fresh = await rootKey(org, E, { name: "fresh" });
    expect((await selfServiceCall(asKey(fresh.key), "POST", "", { name: "own minute" }, E)).status).toBe(201);
  });

  it("the repeated revocation: revoking a revoked key publishes it again, so a holder's repeats are bounded too (10 a minute, then 429); real revocations are not", async () => {
    const t = Math.floor(Date.now() / 60_000) * 60_000 + 1_000;
    vi.spyOn(clock, "now").mockReturnValue(t);
    const org = uniqueOrg();
    const holder = await rootKey(org, E, { name: "holder" });
    const victims = await Promise.all(Array.from({ length: 3 }, (_, i) => rootKey(org, E, { name: `victim ${i}` })));
    expect((await selfServiceCall(asKey(holder.key), "DELETE", `/${victims[0]!.id}`, undefined, E)).status).toBe(200);
    const repeats: number[] = [];
    let refused: any;
    for (let i = 0; i < 12; i++) {
      const a = await selfServiceCall(asKey(holder.key), "DELETE", `/${victims[0]!.id}`, undefined, E);
      repeats.push(a.status);
      if (a.status === 429) refused = a;
    }
    expect(repeats).toEqual([...Array(10).fill(200), 429, 429]);
    expect(refused.json.detail).toMatch(
      /repeat a change already made \(revoking a revoked key, disabling a disabled one\) at most 10 times per minute each \(SELF_SERVICE_CREATE_PER_MINUTE\)/,
    );
    expect(Number(refused.headers.get("retry-after"))).toBe(59);
    // A key not yet revoked still is, at once; and so is its creation minute untouched.
    expect((await selfServiceCall(asKey(holder.key), "DELETE", `/${victims[1]!.id}`, undefined, E)).status).toBe(200);
    expect((await gatewayCall(victims[1]!.key)).status).toBe(401);
    expect((await selfServiceCall(asKey(holder.key), "POST", "", { name: "still mints" }, E)).status).toBe(201);
    // Operators repeat as they like (a repeat after a 503 publishes what was not told).
    for (let i = 0; i < 12; i++)
      expect((await adminCall(TOKEN, "DELETE", `/keys/${victims[0]!.id}`, undefined, E)).status).toBe(200);
    // In the console, disabling a disabled key again: the same bound.
    const s = await consoleAs("portal", org, E);
    const disables: number[] = [];
    for (let i = 0; i < 12; i++)
      disables.push((await consolePost(`${UI}/keys/${victims[2]!.id}/disable`, {}, s, E)).status);
    expect(disables).toEqual([...Array(11).fill(303), 429]);
    expect((await gatewayCall(victims[2]!.key)).status).toBe(401);
  });
});

describe("holder creation is bounded per org: SELF_SERVICE_MAX_KEYS_PER_ORG", () => {
  const CAPPED = manageEnv({ SELF_SERVICE_MAX_KEYS_PER_ORG: "3" });

  it("exact under concurrency; 403 naming the limit; a revoked key frees its slot; regenerating needs none; operators unbounded", async () => {
    const org = uniqueOrg();
    const holders = await Promise.all(
      Array.from({ length: 8 }, (_, i) => rootKey(org, CAPPED, { name: `holder ${i}` })),
    );
    // Eight holders at once against a cap of 3: exactly 3 created.
    const first = await Promise.all(
      holders.map((h, i) => jsonCall("POST", PATH, asKey(h.key), { name: `made ${i}` }, CAPPED)),
    );
    const made = first.filter((a) => a.status === 201);
    expect(made).toHaveLength(3);
    const capped = first.filter((a) => a.status === 403);
    expect(capped).toHaveLength(5);
    expect(capped[0]!.json.detail).toMatch(
      /already has 3 active keys created by key holders \(SELF_SERVICE_MAX_KEYS_PER_ORG\)/,
    );
    // Regenerating a holder-made key at the cap: allowed (its slot passes to the new key).
    const regen = await jsonCall("POST", `${PATH}/${made[0]!.json.id}/regenerate`, asKey(holders[0]!.key), {}, CAPPED);
    expect(regen.status).toBe(201);
    expect((await jsonCall("POST", PATH, asKey(holders[1]!.key), { name: "still capped" }, CAPPED)).status).toBe(403);
    // Revoking one frees a slot at once.
    expect(
      (await jsonCall("DELETE", `${PATH}/${made[1]!.json.id}`, asKey(holders[1]!.key), undefined, CAPPED)).status,
    ).toBe(200);
    expect((await jsonCall("POST", PATH, asKey(holders[2]!.key), { name: "after revoke" }, CAPPED)).status).toBe(201);
    expect((await jsonCall("POST", PATH, asKey(holders[3]!.key), { name: "capped again" }, CAPPED)).status).toBe(403);
    // A slot whose key was revoked where no count could be told (the CLI on local state has no
    // Durable Object): found revoked in the org's listing when the cap is reached.
    expect(
      await revokeKey(
        { kv: env.KEYS, settings: { prefix: "kg_" }, actor: "cli", now: Date.now() },
        { kind: "root" },
        made[2]!.json.id,
      ),
    ).toMatchObject({ ok: true });
    expect((await jsonCall("POST", PATH, asKey(holders[4]!.key), { name: "settled" }, CAPPED)).status).toBe(201);
    // Operators are not bounded; other orgs have their own count.
    expect((await adminCall(TOKEN, "POST", "/keys", { orgs: [org], name: "operator's" }, CAPPED)).status).toBe(201);
    const elsewhere = await rootKey(uniqueOrg(), CAPPED);
    expect((await jsonCall("POST", PATH, asKey(elsewhere.key), { name: "other org" }, CAPPED)).status).toBe(201);
  });

  it("a regeneration with a grace period keeps the old key working, so its new key takes a slot of its own: at the cap, 403", async () => {
    const org = uniqueOrg();
    const holder = await rootKey(org, CAPPED, { name: "holder" });
    const made = [];
    for (let i = 0; i < 3; i++) {
      const a = await jsonCall("POST", PATH, asKey(holder.key), { name: `made ${i}` }, CAPPED);
      expect(a.status).toBe(201);
      made.push(a.json);
    }
    // At the cap: regenerating with a grace would leave four working holder-made keys.
    const regenerate = (id: string, body: Record<string, unknown>) =>
      jsonCall("POST", `${PATH}/${id}/regenerate`, asKey(holder.key), body, CAPPED);
    const graced = await regenerate(made[0].id, { grace_seconds: 3600 });
    expect(graced.status).toBe(403);
    expect(graced.json.detail).toMatch(/already has 3 active keys created by key holders/);
    expect((await gatewayCall(made[0].key)).status).toBe(200); // not rotated
    // Without a grace the new key takes the old one's slot.
    const swapped = await regenerate(made[0].id, {});
    expect(swapped.status).toBe(201);
    // A free slot: the graced regeneration takes it, and both keys work; the cap is reached again.
    expect((await jsonCall("DELETE", `${PATH}/${made[1].id}`, asKey(holder.key), undefined, CAPPED)).status).toBe(200);
    const ok = await regenerate(made[2].id, { grace_seconds: 60 });
    expect(ok.status).toBe(201);
    expect((await gatewayCall(made[2].key)).status).toBe(200);
    expect((await gatewayCall(ok.json.key)).status).toBe(200);
    expect((await jsonCall("POST", PATH, asKey(holder.key), { name: "over" }, CAPPED)).status).toBe(403);
    // Once the grace has ended the old key's slot is free again.
    vi.spyOn(clock, "now").mockReturnValue(Date.now() + 61_000);
    expect((await jsonCall("POST", PATH, asKey(holder.key), { name: "after the grace" }, CAPPED)).status).toBe(201);
  });
});

describe("rules 1 and 2: nobody grants more than they hold", () => {
  it("a key holder's expiry bounds what it creates: later is 403, none given is its own", async () => {
    const org = uniqueOrg();
    const expires = new Date(Date.now() + 5 * DAY).toISOString();
    const h = await rootKey(org, E, { name: "expiring", expires_at: expires });
    for (const later of [new Date(Date.now() + 6 * DAY).toISOString(), null]) {
      const a = await selfServiceCall(asKey(h.key), "POST", "", { name: "longer", expires_at: later }, E);
      expect(a.status, String(later)).toBe(403);
      expect(a.json.detail).toMatch(/expires_at cannot be later than your own key's expiry/);
    }
    const earlier = new Date(Date.now() + DAY).toISOString();
    expect(
      (await selfServiceCall(asKey(h.key), "POST", "", { name: "shorter", expires_at: earlier }, E)).json.expires_at,
    ).toBe(earlier);
    expect((await selfServiceCall(asKey(h.key), "POST", "", { name: "inherits" }, E)).json.expires_at).toBe(expires);
  });

  it("every operator's field is a 400 naming it, for a key holder and a session", async () => {
    const org = uniqueOrg();
    const h = await rootKey(org, E);
    const session = { cookie: `${SESSION_COOKIE}=${await hs256(claims({ sub: "u", org_slug: org, scope: "read" }))}` };
    for (const headers of [asKey(h.key), session]) {
      for (const [field, value] of Object.entries({
        orgs: [org],
        meta: { a: "b" },
        rate_limit: null,
        credits: { remaining: 1 },
        allowed_ips: null,
      })) {
        const a = await selfServiceCall(headers, "POST", "", { name: "x", [field]: value }, E);
        expect(a.status, field).toBe(400);
        expect(names(a, field), field).toBe(true);
      }
    }
    expect(await orgKeys(org)).toHaveLength(1);
  });

  it("in the console too: a portal or session user posting an operator's field gets the form back, 400 naming it, nothing created", async () => {
    for (const role of ["portal", "session"] as const) {
      const org = uniqueOrg();
      const s = await consoleAs(role, org, E);
      for (const [field, posted] of [
        ["orgs", { org }],
        ["rate_limit", { rate_limit: "5", rate_period: "60" }],
        ["meta", { meta: "x" }],
        ["credits", { credits: "999999999" }],
        ["allowed_ips", { allowed_ips: "0.0.0.0/0" }],
      ] as const) {
        const form = await consoleGet(`${UI}/new`, s, E);
        const a = await consolePost(
          `${UI}/keys`,
          { ...formFields(form.text, `${UI}/keys`), name: "x", ...posted },
          s,
          E,
        );
        expect(a.status, `${role} ${field}`).toBe(400);
        expect(names(a, field), `${role} ${field}`).toBe(true);
        expect(a.text).toContain("is set by the operator");
      }
      expect(await orgKeys(org)).toEqual([]);
    }
  });

  it("rule 2, refused: a metered holder cannot regenerate a key metered less than itself (another balance, or none); allowed: its own children", async () => {
    const org = uniqueOrg();
    const metered = await rootKey(org, E, { name: "metered", credits: { remaining: 50 } });
    const unmetered = await rootKey(org, E, { name: "unmetered" });
    const otherBalance = await rootKey(org, E, { name: "other balance", credits: { remaining: 50 } });
    for (const target of [unmetered, otherBalance]) {
      const a = await selfServiceCall(asKey(metered.key), "POST", `/${target.id}/regenerate`, {}, E);
      expect(a.status, target.name).toBe(403);
      expect(a.json.detail).toMatch(/its credits are not your balance/);
    }
    const child = await selfServiceCall(asKey(metered.key), "POST", "", { name: "child" }, E);
    expect(child.status).toBe(201);
    const regenerated = await selfServiceCall(asKey(metered.key), "POST", `/${child.json.id}/regenerate`, {}, E);
    expect(regenerated.status).toBe(201);
    expect((await gatewayCall(regenerated.json.key)).credits).toBe("49"); // still the parent's balance
    // An unmetered holder may regenerate a metered key (it is metered more, not less).
    expect((await selfServiceCall(asKey(unmetered.key), "POST", `/${otherBalance.id}/regenerate`, {}, E)).status).toBe(
      201,
    );
  });

  it("a pinned holder cannot regenerate an unpinned key (it would get an any-address key), nor a wider limit", async () => {
    const org = uniqueOrg();
    const pinned = await rootKey(org, E, {
      name: "pinned",
      allowed_ips: [PINNED],
      rate_limit: { limit: 10, period_seconds: 60 },
    });
    const open = await rootKey(org, E, { name: "open", rate_limit: { limit: 10, period_seconds: 60 } });
    const inside = await rootKey(org, E, {
      name: "narrower",
      allowed_ips: ["203.0.113.8/29"],
      rate_limit: { limit: 5, period_seconds: 60 },
    });
    const looser = await rootKey(org, E, {
      name: "looser",
      allowed_ips: [PINNED],
      rate_limit: { limit: 10, period_seconds: 1 },
    });
    expect((await selfServiceCall(asKey(pinned.key), "POST", `/${open.id}/regenerate`, {}, E)).json.detail).toMatch(
      /allowed_ips are wider/,
    );
    expect((await selfServiceCall(asKey(pinned.key), "POST", `/${looser.id}/regenerate`, {}, E)).json.detail).toMatch(
      /rate limit is looser/,
    );
    expect((await selfServiceCall(asKey(pinned.key), "POST", `/${inside.id}/regenerate`, {}, E)).status).toBe(201);
    expect((await gatewayCall(open.key)).status).toBe(200); // untouched
  });
});

describe("rule 7: portal links carry a ceiling", () => {
  it("scopes given: the link's user grants within them; none given: the issuer's own (root's: no ceiling); bad scopes: 400", async () => {
    const org = uniqueOrg();
    const bad = await adminCall(TOKEN, "POST", "/portal-links", { org, scopes: "read" }, E);
    expect(bad.status).toBe(400);
    expect(names(bad, "scopes")).toBe(true);
    const bounded = await consoleAs("portal", org, E, { scopes: "read" });
    const form = await consoleGet(`${UI}/new`, bounded, E);
    expect(
      (
        await consolePost(
          `${UI}/keys`,
          { ...formFields(form.text, `${UI}/keys`), name: "w", scopes: "write" },
          bounded,
          E,
        )
      ).status,
    ).toBe(403);
    const link = await adminCall(TOKEN, "POST", "/portal-links", { org }, E);
    const opened = await send(new URL(link.json.url).pathname, {}, E);
    const cookie = opened.headers.get("set-cookie")!.split(";")[0]!;
    const page = await consoleGet(`${UI}/new`, { cookie, csrf: "" }, E);
    const s = { cookie, csrf: hidden(page.text, "csrf")! };
    expect(
      (
        await consolePost(
          `${UI}/keys`,
          { ...formFields(page.text, `${UI}/keys`), name: "any", scopes: "write admin" },
          s,
          E,
        )
      ).status,
    ).toBe(201);
  });
});

describe("rule 9: allowed_ips in IPv4-mapped IPv6 form are folded to IPv4", () => {
  it("stored as the IPv4 address (or range), and matching the client's address in either form", async () => {
    const org = uniqueOrg();
    const k = await rootKey(org, E, {
      allowed_ips: ["::ffff:203.0.113.9", "::ffff:198.51.100.0/120", "2001:db8::/32"],
    });
    expect((await adminCall(TOKEN, "GET", `/keys/${k.id}`, undefined, E)).json.allowed_ips).toEqual([
      "203.0.113.9",
      "198.51.100.0/24",
      "2001:db8::/32",
    ]);
    expect((await gatewayCall(k.key, "203.0.113.9")).status).toBe(200);
    expect((await gatewayCall(k.key, "::ffff:203.0.113.9")).status).toBe(200);
    expect((await gatewayCall(k.key, "198.51.100.77")).status).toBe(200);
    expect((await gatewayCall(k.key, "203.0.113.10")).status).toBe(403);
    const patched = await adminCall(TOKEN, "PATCH", `/keys/${k.id}`, { allowed_ips: ["::ffff:192.0.2.1"] }, E);
    expect(patched.json.allowed_ips).toEqual(["192.0.2.1"]);
  });
});
