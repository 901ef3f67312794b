/** The revocation feed is one Durable Object, addressed by this name (no runtime imports: the CLI uses it). */
export const FEED_OBJECT_NAME = "revocation-feed";
