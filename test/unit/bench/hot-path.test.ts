/**
 * What the hot path loads: the esbuild bundle of `createGateway` (src/edge/gateway/handler.ts),
 * the figure docs/performance.md gives as the hot path's size. The linter holds the plane
 * rule for each import (biome.json); this holds it for everything those imports bring in:
 * nothing of the management side, not the management side's key fields (keys/fields.ts),
 * not the configuration's declaration (config/variables.ts), and of Hono only its JWT
 * verifier.
 */
import { build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";

let inputs: string[] = [];

beforeAll(async () => {
  const result = await build({
    stdin: {
      contents: 'export { createGateway } from "./src/edge/gateway/handler";',
      resolveDir: process.cwd(),
      loader: "ts",
    },
    bundle: true,
    write: false,
    metafile: true,
    format: "esm",
    platform: "neutral",
    external: ["cloudflare:*", "node:*"],
    logLevel: "error",
  });
  inputs = Object.keys(result.metafile.inputs);
});

describe("the hot path's bundle", () => {
  it("is the edge plus shared modules", () => {
    expect(inputs).toContain("src/edge/gateway/handler.ts");
    expect(inputs).toContain("src/keys/record.ts");
  });

  it("brings in nothing from the management side", () => {
    expect(inputs.filter((f) => f.startsWith("src/manage/"))).toEqual([]);
  });

  it("never loads the management side's key fields (keys/fields.ts)", () => {
    expect(inputs).not.toContain("src/keys/fields.ts");
  });

  it("takes of config/ only the usage flush's arithmetic, never the variables' declaration (the Config is built outside it)", () => {
    expect(inputs.filter((f) => f.startsWith("src/config/"))).toEqual(["src/config/usage-flush.ts"]);
  });

  it("takes of Hono only its JWT verifier and what that imports", () => {
    const hono = inputs.filter((f) => f.includes("node_modules/hono/"));
    expect(hono).toContain("node_modules/hono/dist/utils/jwt/jwt.js");
    expect(hono.filter((f) => !/node_modules\/hono\/dist\/(utils|helper\/adapter)\//.test(f))).toEqual([]);
  });
});
