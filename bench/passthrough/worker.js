/**
 * The benchmark's ceiling: a Worker that forwards every request to ORIGIN_URL with no
 * authentication at all — the least any proxy running in Workers has to do (parse the
 * URL, one subrequest, hand the response back). keygate is measured against it.
 */
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, request);
  },
};
