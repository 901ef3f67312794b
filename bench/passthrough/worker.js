/**
 * The benchmark's ceiling: a Worker that forwards every request to ORIGIN_URL with no
 * authentication at all — the least any proxy running in Workers has to do (parse the
 * URL, one subrequest, hand the response back). Written with Hono, as keygate is, so
 * the ratio measures what keygate does, not the framework. keygate is measured against it.
 */
import { Hono } from "hono";

const app = new Hono();
app.all("*", (c) => {
  const url = new URL(c.req.url);
  return fetch(c.env.ORIGIN_URL + url.pathname + url.search, c.req.raw);
});

export default app;
