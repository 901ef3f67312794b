// The soak's memory baseline: a bare pass-through proxy doing what every keygate request
// does at the least (one JSON log line, one subrequest to the origin, the response
// streamed back), under the same `wrangler dev`, so the local runtime's own memory
// growth can be told apart from keygate's.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    console.log(JSON.stringify({ level: "info", msg: "request", path: url.pathname, request_id: crypto.randomUUID() }));
    return fetch(env.ORIGIN_URL + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      redirect: "manual",
    });
  },
};
