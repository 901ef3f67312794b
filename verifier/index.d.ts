/** Types of verifier/index.js (keygate origin signatures). See that file for the format. */

export declare const SIGNATURE_HEADER: "x-keygate-signature";
export declare const SIGNATURE_VERSION: "v1";
export declare const DEFAULT_MAX_SKEW_SECONDS: 300;
export declare const DEFAULT_IDENTITY_HEADERS: Readonly<{
  org: string;
  keyId: string;
  scopes: string;
  userId: string;
  method: string;
}>;
export declare const REQUEST_ID_HEADER: "x-request-id";
export declare const VERDICT_HEADER: "x-keygate-verdict";

export interface SigningSecret {
  kid: string;
  secret: string;
}

export interface SignedFields {
  method: string;
  /** The path as the origin receives it. */
  path: string;
  /** Without the leading "?". */
  query: string;
  /** Unix seconds. */
  timestamp: number;
  kid: string;
  /** [lowercase name, value] in canonical order (see coveredHeaders). */
  headers: [string, string][];
}

export declare function parseSigningSecrets(value: string): SigningSecret[];
export declare function canonicalString(fields: SignedFields): string;
export declare function coveredHeaders(
  get: (name: string) => string,
  /** userId and method default to x-user-id and x-auth-method. */
  names: { org: string; keyId: string; scopes: string; userId?: string; method?: string },
): [string, string][];
/** What keygate would have decided, on a request it forwarded in report mode (docs/migrating.md). */
export type Verdict = { decision: "allow" } | { decision: "deny"; reason: string; status: number };

export declare function parseVerdict(value: string): Verdict | null;
export declare function signatureHeader(signer: SigningSecret, fields: SignedFields): Promise<string>;

/** A Fetch Request, or Node's IncomingMessage (method, url = raw path and query, headers). */
export interface RequestLike {
  method?: string;
  url?: string;
  headers: Headers | Record<string, string | string[] | undefined>;
}

export interface VerifierOptions {
  /** ORIGIN_SIGNING_SECRET's value ("kid:secret,…"), or parsed pairs. */
  secrets: string | SigningSecret[];
  /** Default 300. */
  maxSkewSeconds?: number;
  /** Only if keygate's ORG_HEADER / KEY_ID_HEADER / SCOPES_HEADER were changed. */
  headers?: Partial<{ org: string; keyId: string; scopes: string }>;
  /** Milliseconds since epoch (tests). */
  now?: () => number;
}

/** What keygate vouched for: a key (keyId set) or a session (userId = the JWT's `sub`). */
export interface Identity {
  method: "key" | "session";
  org: string;
  keyId: string | null;
  userId: string | null;
  scopes: string[];
}

export type VerifyResult =
  | { ok: true; kid: string; timestamp: number; identity: Identity | null; verdict: Verdict | null }
  | { ok: false; reason: "missing" | "malformed" | "unknown_kid" | "stale" | "bad_signature" };

export declare function createVerifier(options: VerifierOptions): (request: RequestLike) => Promise<VerifyResult>;

// ---- webhooks (Standard Webhooks 1.0, symmetric) ----

export declare const WEBHOOK_SECRET_PREFIX: "whsec_";
export declare const DEFAULT_WEBHOOK_TOLERANCE_SECONDS: 300;

/** The key bytes of a webhook secret ("whsec_" + base64). */
export declare function webhookSecretBytes(secret: string): Uint8Array;

/** The webhook-signature value of one attempt: `v1,<base64 HMAC-SHA256("id.timestamp.body")>`. */
export declare function signWebhook(
  secret: string,
  message: { id: string; timestamp: number; body: string },
): Promise<string>;

export type WebhookVerifyResult =
  | { ok: true; id: string; timestamp: number; payload: unknown }
  | { ok: false; reason: "missing" | "malformed" | "stale" | "bad_signature" };

/**
 * Verify one webhook delivery from keygate: its headers (webhook-id, webhook-timestamp,
 * webhook-signature) and its raw body, with the whsec_… secret shown at creation.
 */
export declare function verifyWebhook(
  secret: string,
  delivery: { headers: Headers | Record<string, string | string[] | undefined>; body: string | Uint8Array },
  options?: { toleranceSeconds?: number; now?: () => number },
): Promise<WebhookVerifyResult>;
