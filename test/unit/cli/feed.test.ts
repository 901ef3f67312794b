/**
 * The keys CLI's link to a running `wrangler dev` (cli/backends/feed.ts): why it could not
 * be reached, in plain words — never the platform's own error text (issue 24: an entry in
 * the dev registry left by a stopped or other-version `wrangler dev` surfaced as
 * "(false == true)", an assertion inside wrangler's proxy).
 */
import { describe, expect, it } from "vitest";
import { unreachableReason } from "../../../cli/backends/feed";

describe("unreachableReason", () => {
  it("says what happened in words a user can act on, whatever the platform threw", () => {
    for (const thrown of [
      new Error("false == true"),
      new Error("Network connection lost."),
      new Error('Worker "core:user:keygate" not found. Make sure it is running locally.'),
      "a string",
      undefined,
    ]) {
      const reason = unreachableReason(thrown, "/state/dev-registry");
      expect(reason).toBe(
        "the one registered in /state/dev-registry did not answer: it has stopped, or another wrangler version started it",
      );
      expect(reason).not.toMatch(/==|Network|core:user/);
    }
  });
});
