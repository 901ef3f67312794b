/**
 * One way to bound a wait: `promise`, or a rejection with `fail()` once `ms` have passed
 * without it settling. The timer is cleared either way, so a settled call leaves nothing
 * running in the isolate. Every call keygate makes to KV or a Durable Object on a
 * request's behalf, or in its background, is bounded through this.
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, fail: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(fail()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}
