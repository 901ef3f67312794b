/**
 * Webhook URLs (src/manage/webhooks.ts webhookUrlProblem, localRequest): https to a public
 * host; http and loopback or private addresses only when allowed (wrangler dev, or
 * WEBHOOK_ALLOW_LOOPBACK).
 */
import { describe, expect, it } from "vitest";
import { localRequest, webhookUrlProblem } from "../../../src/manage/webhooks";

/** Each URL is refused in production (not a public host) and allowed under wrangler dev. */
function expectLocalOnly(urls: string[]): void {
  for (const url of urls) {
    expect(webhookUrlProblem(url, false), url).toMatch(/https:\/\/ URL of a public host/);
    expect(webhookUrlProblem(url, true), url).toBeNull();
  }
}
describe("webhook URLs", () => {
  it("https to a public host, always", () => {
    for (const url of [
      "https://hooks.example.com/keygate",
      "https://93.184.216.34:8443/x?token=1",
      "https://[2001:db8::1]/x",
    ])
      expect(webhookUrlProblem(url, false), url).toBeNull();
  });

  it("loopback, private, link-local and plain http only when allowed", () => {
    const local = [
      "http://127.0.0.1:8788/hook",
      "http://localhost/hook",
      "https://127.0.0.2/x",
      "https://10.0.0.1/x",
      "https://172.16.0.1/x",
      "https://192.168.0.1/x",
      "https://169.254.169.254/x",
      "https://100.64.0.1/x",
      "https://0.0.0.0/x",
      "https://[::1]/x",
      "https://[fe80::1]/x",
      "https://[fc00::1]/x",
      "https://x.localhost/x",
    ];
    expectLocalOnly(local);
    // Plain http to a public host: never.
    expect(webhookUrlProblem("http://hooks.example.com/x", true)).not.toBeNull();
  });

  it("no way around the private ranges: a trailing dot, IPv4 inside IPv6, special-purpose ranges and names", () => {
    const around = [
      // A fully qualified name ends in a dot: localhost. is localhost.
      "https://localhost./x",
      "https://hooks.localhost./x",
      "https://localhost%2e/x",
      // An IPv4 address inside an IPv6 one: IPv4-compatible, NAT64 (well-known and local), 6to4, Teredo.
      "https://[::127.0.0.1]/x",
      "https://[::a9fe:a9fe]/x",
      "https://[64:ff9b::a9fe:a9fe]/x",
      "https://[64:ff9b:1::a00:1]/x",
      "https://[2002:7f00:1::]/x",
      "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x",
      // IETF assignments, benchmarking, multicast, reserved, broadcast.
      "https://192.0.0.1/x",
      "https://198.18.0.1/x",
      "https://224.0.0.1/x",
      "https://240.0.0.1/x",
      "https://255.255.255.255/x",
      "https://[ff02::1]/x",
      // Names that never resolve to a public host.
      "https://metadata.google.internal/computeMetadata/v1/",
      "https://printer.local/x",
      "https://router.home.arpa/x",
      "https://intranet/x",
    ];
    expectLocalOnly(around);
    expect(localRequest("http://localhost.:8787/x")).toBe(true);
  });

  it("never credentials, a fragment, another scheme, a relative or an over-long URL", () => {
    for (const url of [
      "https://u:p@hooks.example.com/x",
      "https://hooks.example.com/x#f",
      "ftp://hooks.example.com/x",
      "/x",
      "",
      42,
      `https://hooks.example.com/${"a".repeat(2048)}`,
    ])
      expect(webhookUrlProblem(url, true), String(url).slice(0, 40)).not.toBeNull();
  });

  it("a management request to a loopback host is wrangler dev", () => {
    expect(localRequest("http://127.0.0.1:8787/_keygate/webhooks")).toBe(true);
    expect(localRequest("http://localhost:8787/x")).toBe(true);
    expect(localRequest("http://console.localhost:8787/webhooks")).toBe(true);
    expect(localRequest("https://gw.example.com/_keygate/webhooks")).toBe(false);
    expect(localRequest("not a url")).toBe(false);
  });
});
