// Stands in for the origin's WebSocket endpoint in the "workers-websocket" test project.
// Why not the real Node origin: Miniflare relays a worker's outbound WebSocket through
// Node's `ws` client and copies the origin's 101 headers back, Sec-WebSocket-Accept
// included, so workerd sees an accept computed for another key and fails the handshake
// (wrangler 4.86 / Miniflare 4 and Miniflare 5 both). The production runtime connects
// directly. Plain HTTP requests are passed on to the real origin.
export default {
  async fetch(request) {
    if ((request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
      return fetch(request, { redirect: "manual" });
    }
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    const seen = {};
    for (const [k, v] of request.headers) seen[k] = v;
    server.send(JSON.stringify({ url: new URL(request.url).pathname, headers: seen }));
    server.addEventListener("message", (event) => server.send(`echo: ${event.data}`));
    return new Response(null, { status: 101, webSocket: client });
  },
};
