/**
 * `npm run keys` starts here: the keys CLI (cli/keys.ts) run from one prebuilt bundle, not
 * through tsx. tsx transpiles each of the CLI's ≈ 40 TypeScript modules on every run
 * (≈ 0.4 s of a local command); esbuild bundles them once (≈ 30 ms) into
 * node_modules/.cache/keygate/keys-cli.mjs, rebuilt whenever one of its sources (or this
 * file, tsconfig.json, esbuild) changed: their sizes and modification times are its stamp.
 * Packages (wrangler, hono) stay outside the bundle, loaded from node_modules as before.
 * Measured before and after in docs/platform.md.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT_DIR = join(ROOT, "node_modules/.cache/keygate");
const OUT = join(OUT_DIR, "keys-cli.mjs");
const STAMP = join(OUT_DIR, "keys-cli.stamp.json");
/** What the bundle depends on besides the modules it bundles. */
const ALSO = [relative(ROOT, fileURLToPath(import.meta.url)), "tsconfig.json", "node_modules/esbuild/package.json"];

/** Each input's path, size and modification time: a bundle is fresh while these are unchanged. */
function stampOf(inputs) {
  return inputs.map((file) => {
    const s = statSync(join(ROOT, file));
    return `${file} ${s.size} ${s.mtimeMs}`;
  });
}

function fresh() {
  try {
    const saved = JSON.parse(readFileSync(STAMP, "utf8"));
    return JSON.stringify(stampOf(saved.inputs)) === JSON.stringify(saved.stamp);
  } catch {
    return false; // no bundle yet, or an input is gone
  }
}

if (!fresh()) {
  const { build } = await import("esbuild");
  mkdirSync(OUT_DIR, { recursive: true });
  // Written aside, then renamed: two CLIs building at once never read half a bundle.
  const tmp = `${OUT}.${process.pid}.tmp`;
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: ["cli/keys.ts"],
    outfile: tmp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    metafile: true,
    logLevel: "error",
  });
  const inputs = [...Object.keys(result.metafile.inputs), ...ALSO];
  const stamp = stampOf(inputs);
  renameSync(tmp, OUT);
  // The stamp last: a stamp that matches always has its bundle in place.
  writeFileSync(`${STAMP}.${process.pid}.tmp`, JSON.stringify({ inputs, stamp }));
  renameSync(`${STAMP}.${process.pid}.tmp`, STAMP);
}

await import(pathToFileURL(OUT).href);
