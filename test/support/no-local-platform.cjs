/**
 * Preloaded by tests (`node --require`, through NODE_OPTIONS): loading wrangler or
 * Miniflare throws, so a command that would start the local platform fails at once with
 * this message, and one that never starts it is unaffected. How a test shows that the
 * keys CLI's bad usage is answered without the platform (timings are never asserted).
 */
const Module = require("node:module");

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "wrangler" || request === "miniflare") throw new Error("the local platform is unavailable (test)");
  return resolve.call(this, request, ...rest);
};
