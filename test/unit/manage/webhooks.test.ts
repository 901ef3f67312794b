/**
 * Webhook URLs (src/manage/webhooks.ts webhookUrlProblem, localRequest): https to a public
 * host; http and loopback or private addresses only when allowed (wrangler dev, or
 * WEBHOOK_ALLOW_LOOPBACK).
 */
import { describe, expect, it } from "vitest";
import { localRequest, webhookUrlProblem } from "../../../src/manage/webhooks";

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
    for (const url of local) {
      expect(webhookUrlProblem(url, false), url).toMatch(/https:\/\/ URL of a public host/);
      expect(webhookUrlProblem(url, true), url).toBeNull();
    }
    // Plain http to a public host: never.
    expect(webhookUrlProblem("http://hooks.example.com/x", true)).not.toBeNull();
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
