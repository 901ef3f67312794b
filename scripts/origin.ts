/**
 * A small, real HTTP origin on loopback: the demo API behind `npm run dev`, the origin
 * the test suites observe, and the baseline for benchmarks.
 *
 * Any path echoes what arrived (method, raw URL, headers, body length and SHA-256) as
 * JSON. A request carrying `x-probe: <id>` is recorded, so a test can ask
 * `GET /__origin/calls?probe=<id>` whether (and how) the origin was called.
 * Behaviour paths, for proxy semantics:
 *   /status/<code>        that status, JSON body
 *   /redirect             302 to /elsewhere
 *   /slow-headers?ms=N    headers after N ms
 *   /hold?id=X&max=N      headers once `GET /__origin/release?id=X` is called (or after N ms);
 *                         `GET /__origin/held?id=X` tells whether X is being held
 *   /slow-body?ms=N       first chunk, then N ms, then the rest (&fixed=1: with Content-Length)
 *   /stream?n=N&ms=M      N server-sent events M ms apart
 *   /gzip                 a gzip-encoded JSON body
 *   /large?bytes=N        N bytes of 'x'
 *   /reset                socket destroyed before any response
 *   /reset-mid-body       headers and a chunk, then the socket destroyed
 *   /hop                  a response carrying hop-by-hop headers
 *   /deprecated           a response carrying its own Sunset and Deprecation headers
 *   /bench                a fixed 13-byte body, nothing else (benchmark baseline)
 *   /__origin/jwks?set=S  GET: the JWKS of set S (default: `jwks` given at start), each fetch
 *                         recorded as probe "jwks:S"; PUT: replace set S (a key rotation)
 *   /legacy/<profile>/…   one of the five seed APIs as it was before keygate, authenticating
 *                         on its own in its own contract (scripts/legacy-api.ts)
 *   /__origin/github/public_keys?set=S   GitHub's secret scanning keys, in GitHub's shape
 *                         {"public_keys": [{"key_identifier", "key", "is_current"}]}: GET set S
 *                         (default: the `github` keys given at start marked `listed`), each fetch
 *                         recorded as probe "github-keys:S"; PUT: replace set S
 *   /__origin/github/sign?key=ID   POST: the body signed as GitHub signs a report (ECDSA P-256,
 *                         SHA-256, DER, base64) with the `github` key ID: {"signature"}
 *   Upgrade: websocket    handshake, then one text frame "hello from origin"
 *   /__origin/hook/NAME?fail=N&status=S&ms=M   a webhook receiver: keeps each delivery (headers and
 *                         the raw body) under NAME; answers S (default 500) to the first N
 *                         deliveries, then 204, after M ms; `GET /__origin/hooks?name=NAME` lists them
 *
 * With `signingSecret` (ORIGIN_SIGNING_SECRET when run on its own), every request is
 * checked with keygate's shipped verifier (verifier/index.js) and the echo carries its
 * verdict as `signature`: what an origin that trusts only signed identities would decide.
 */
import { createHash, sign } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { gzipSync } from "node:zlib";
import type { VerifyResult } from "../verifier/index.js";
import { createVerifier } from "../verifier/index.js";
import type { SeedProfile } from "./legacy-api";
import { legacyAnswer } from "./legacy-api";

export interface RecordedCall {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bodyBytes: number;
  bodySha256: string;
  /** The verifier's verdict, when the origin was started with a signing secret. */
  signature?: VerifyResult;
}

export interface OriginOptions {
  /** ORIGIN_SIGNING_SECRET: verify every request's keygate signature. */
  signingSecret?: string;
  /** A JWKS ({ keys: [...] }) served at /__origin/jwks: an identity provider for session tests. */
  jwks?: { keys: unknown[] };
  /** P-256 key pairs standing in for GitHub's secret scanning keys (leak report tests). */
  github?: GithubTestKey[];
}

export interface GithubTestKey {
  identifier: string;
  /** PKCS#8 PEM: stays in the origin, which signs with it. */
  privateKeyPem: string;
  /** SPKI PEM, as GitHub publishes its keys. */
  publicKeyPem: string;
  /** In the default set of public keys served. */
  listed: boolean;
}

export interface Origin {
  url: string;
  port: number;
  close(): Promise<void>;
}

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B65";
const MAX_RECORDED_PROBES = 10_000;

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...extra });
  res.end(text);
}

function handleUpgrade(req: http.IncomingMessage, socket: Duplex): void {
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string" || req.headers.upgrade?.toLowerCase() !== "websocket") {
    socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
    return;
  }
  const accept = createHash("sha1")
    .update(key + WS_GUID)
    .digest("base64");
  const echo = JSON.stringify({ org: req.headers["x-org-slug"] ?? null, key: req.headers["x-api-key"] ?? null });
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${accept}\r\nx-origin-seen: ${Buffer.from(echo).toString("base64")}\r\n\r\n`,
  );
  const payload = Buffer.from("hello from origin");
  socket.write(Buffer.concat([Buffer.from([0x81, payload.length]), payload]));
  socket.on("data", () => {});
  socket.on("error", () => {});
}

export async function startOrigin(port = 0, host = "127.0.0.1", opts: OriginOptions = {}): Promise<Origin> {
  const calls = new Map<string, RecordedCall[]>();
  /** Requests to /hold, by id: calling the function answers them. */
  const holds = new Map<string, () => void>();
  const verify = opts.signingSecret ? createVerifier({ secrets: opts.signingSecret }) : undefined;
  const jwksSets = new Map<string, { keys: unknown[] }>();
  /** Webhook deliveries received, by receiver name. */
  const hooks = new Map<string, { headers: http.IncomingHttpHeaders; body: string; answered: number; at: number }[]>();
  const githubSets = new Map<string, unknown>();
  const record = (probe: string, call: RecordedCall) => {
    // The oldest probe goes, never all of them: a whole-map clear could land between a
    // test's request and its question about it (the full suite makes >10k probes).
    if (calls.size >= MAX_RECORDED_PROBES && !calls.has(probe)) calls.delete(calls.keys().next().value!);
    calls.set(probe, [...(calls.get(probe) ?? []), call]);
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://origin.invalid");
    const path = url.pathname;
    if (path === "/bench") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "13" });
      res.end("hello, world\n");
      return;
    }
    if (path === "/__origin/jwks") {
      const set = url.searchParams.get("set") ?? "default";
      if (req.method === "PUT") {
        let text = "";
        req.on("data", (chunk: Buffer) => (text += chunk.toString()));
        req.on("end", () => {
          jwksSets.set(set, JSON.parse(text) as { keys: unknown[] });
          res.writeHead(204).end();
        });
        return;
      }
      record(`jwks:${set}`, {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        bodyBytes: 0,
        bodySha256: "",
      });
      sendJson(res, 200, jwksSets.get(set) ?? opts.jwks ?? { keys: [] });
      return;
    }
    const hook = /^\/__origin\/hook\/([A-Za-z0-9_-]{1,64})$/.exec(path);
    if (hook && req.method === "POST") {
      const name = hook[1]!;
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const list = hooks.get(name) ?? [];
        const failing = list.length < Number(url.searchParams.get("fail") ?? "0");
        const answered = failing ? Number(url.searchParams.get("status") ?? "500") : 204;
        list.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), answered, at: Date.now() });
        hooks.set(name, list);
        setTimeout(
          () => {
            res.writeHead(answered, { "content-type": "text/plain" });
            res.end(failing ? "receiver's private error details" : "");
          },
          Number(url.searchParams.get("ms") ?? "0"),
        );
      });
      return;
    }
    if (path === "/__origin/github/public_keys" || path === "/__origin/github/sign") {
      let text = "";
      req.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
      req.on("end", () => {
        const set = url.searchParams.get("set") ?? "default";
        if (path === "/__origin/github/sign") {
          const key = (opts.github ?? []).find((k) => k.identifier === url.searchParams.get("key"));
          if (!key) return sendJson(res, 404, { error: "no such key" });
          const signature = sign("sha256", Buffer.from(text, "latin1"), key.privateKeyPem).toString("base64");
          return sendJson(res, 200, { signature });
        }
        if (req.method === "PUT") {
          githubSets.set(set, JSON.parse(text) as unknown);
          res.writeHead(204).end();
          return;
        }
        record(`github-keys:${set}`, {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          bodyBytes: 0,
          bodySha256: "",
        });
        const listed = (opts.github ?? []).filter((k) => k.listed);
        sendJson(
          res,
          200,
          githubSets.get(set) ?? {
            public_keys: listed.map((k, i) => ({
              key_identifier: k.identifier,
              key: k.publicKeyPem,
              is_current: i === 0,
            })),
          },
        );
      });
      return;
    }
    if (path === "/__origin/hooks") {
      sendJson(res, 200, { deliveries: hooks.get(url.searchParams.get("name") ?? "") ?? [] });
      return;
    }
    if (path === "/__origin/held" || path === "/__origin/release") {
      const id = url.searchParams.get("id") ?? "";
      const release = holds.get(id);
      if (path === "/__origin/release" && release) release();
      sendJson(res, 200, { held: release !== undefined });
      return;
    }
    if (path === "/__origin/calls") {
      const probe = url.searchParams.get("probe") ?? "";
      const list = calls.get(probe) ?? [];
      sendJson(res, 200, { count: list.length, calls: list });
      return;
    }
    if (path === "/reset") {
      req.socket.destroy();
      return;
    }
    const hash = createHash("sha256");
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on("end", async () => {
      const call: RecordedCall = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        bodyBytes: bytes,
        bodySha256: hash.digest("hex"),
        ...(verify ? { signature: await verify({ method: req.method, url: req.url, headers: req.headers }) } : {}),
      };
      const probe = req.headers["x-probe"];
      if (typeof probe === "string") record(probe, call);
      respond(req, res, url, call);
    });
  });

  function respond(req: http.IncomingMessage, res: http.ServerResponse, url: URL, call: RecordedCall): void {
    const path = url.pathname;
    const ms = Number(url.searchParams.get("ms") ?? "0");
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) {
      sendJson(res, Number(status[1]), { status: Number(status[1]), from: "origin" });
      return;
    }
    if (path === "/redirect") {
      res.writeHead(302, { location: "/elsewhere", "content-length": "0" });
      res.end();
      return;
    }
    if (path === "/slow-headers") {
      setTimeout(() => sendJson(res, 200, { slow: true }), ms);
      return;
    }
    if (path === "/hold") {
      const id = url.searchParams.get("id") ?? "";
      let answered = false;
      const answer = () => {
        if (answered) return;
        answered = true;
        holds.delete(id);
        clearTimeout(fallback);
        sendJson(res, 200, { held: id });
      };
      const fallback = setTimeout(answer, Number(url.searchParams.get("max") ?? "10000"));
      holds.set(id, answer);
      return;
    }
    if (path === "/slow-body") {
      // ?fixed=1: announce the whole length up front (a fixed-length body that stalls);
      // ?pad=N: N bytes of padding after the first chunk, sent before the stall.
      const pad = "p".repeat(Number(url.searchParams.get("pad") ?? "0"));
      const fixed =
        url.searchParams.get("fixed") === "1"
          ? { "content-length": String(`first chunk\n${pad}second chunk\n`.length) }
          : {};
      res.writeHead(200, { "content-type": "text/plain", ...fixed });
      res.write(`first chunk\n${pad}`);
      setTimeout(() => res.end("second chunk\n"), ms);
      return;
    }
    if (path === "/reset-mid-body") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial");
      setTimeout(() => req.socket.destroy(), 50);
      return;
    }
    if (path === "/stream") {
      const n = Number(url.searchParams.get("n") ?? "3");
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let i = 0;
      const tick = () => {
        res.write(`data: event ${i} at ${Date.now()}\n\n`);
        if (++i < n) setTimeout(tick, ms);
        else res.end();
      };
      tick();
      return;
    }
    if (path === "/gzip") {
      const body = gzipSync(JSON.stringify({ compressed: true, filler: "z".repeat(2000) }));
      res.writeHead(200, {
        "content-type": "application/json",
        "content-encoding": "gzip",
        "content-length": body.length,
      });
      res.end(body);
      return;
    }
    if (path === "/large") {
      const n = Number(url.searchParams.get("bytes") ?? "0");
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(n) });
      res.end(Buffer.alloc(n, "x"));
      return;
    }
    if (path === "/hop") {
      res.writeHead(200, {
        "content-type": "text/plain",
        connection: "x-hop-custom",
        "keep-alive": "timeout=5",
        "x-hop-custom": "should-be-dropped",
        "x-end-to-end": "kept",
        "set-cookie": ["a=1; Path=/", "b=2; Path=/"],
      });
      res.end("hop");
      return;
    }
    if (path === "/deprecated") {
      sendJson(res, 200, { deprecated: true }, { sunset: "Wed, 01 Jan 2031 00:00:00 GMT", deprecation: "@1700000000" });
      return;
    }
    const legacy = /^\/legacy\/(argos|artanis|operate|argus|onecodex)(\/.*)?$/.exec(path);
    if (legacy) {
      const a = legacyAnswer(legacy[1] as SeedProfile, legacy[2] ?? "/", req.headers, call.signature);
      res.writeHead(a.status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(a.body),
        ...a.headers,
      });
      res.end(a.body);
      return;
    }
    sendJson(res, 200, call, { "x-origin": "echo" });
  }

  // Upgraded sockets leave the server's connection tracking: close them ourselves.
  const upgraded = new Set<Duplex>();
  server.on("upgrade", (req, socket: Duplex) => {
    // Recorded like any request, so a test can ask whether an upgrade reached the origin.
    const probe = req.headers["x-probe"];
    if (typeof probe === "string") {
      record(probe, {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        bodyBytes: 0,
        bodySha256: "",
      });
    }
    upgraded.add(socket);
    socket.on("close", () => upgraded.delete(socket));
    handleUpgrade(req, socket);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject); // e.g. EADDRINUSE: the caller says what to do about it
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of upgraded) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// `tsx scripts/origin.ts [port]` runs it on its own.
if (import.meta.url === `file://${process.argv[1]}`) {
  const origin = await startOrigin(Number(process.argv[2] ?? 8788), "127.0.0.1", {
    signingSecret: process.env.ORIGIN_SIGNING_SECRET,
  });
  console.log(`origin listening on ${origin.url}`);
}
