/**
 * The load generator: autocannon, in this process (the benchmark driver does nothing
 * else while a measurement runs, so this process's CPU time is the generator's).
 *
 * Latency is recorded here from autocannon's per-response event, in fractional
 * milliseconds and for every status: autocannon's own histogram has 1 ms resolution
 * and only counts 2xx answers, and we measure 401s too.
 */
import autocannon from "autocannon";

export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  duration: number;
  /** Stop after this many requests instead of after `duration`. */
  amount?: number;
  headers?: Record<string, string>;
  /**
   * Round-robin: each request carries the next of `values` in `header`. `cursor` carries
   * the position from one run to the next, so successive rounds walk the whole list
   * instead of starting over (which would keep a large working set inside the cache).
   */
  rotate?: { header: string; values: readonly string[]; cursor: { next: number } };
}

export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  /** Count per HTTP status, plus "error" for connection errors and timeouts. */
  statuses: Record<string, number>;
  /** CPU the load generator used, in microseconds per request. */
  loadgenCpuUsPerReq: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function load(opts: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  const statuses: Record<string, number> = {};
  const rotate = opts.rotate;
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: opts.url,
    connections: opts.connections,
    ...(opts.amount ? { amount: opts.amount } : { duration: opts.duration }),
    headers: opts.headers ?? {},
    ...(rotate
      ? {
          requests: [
            {
              setupRequest: (req: { headers?: Record<string, string> }) => {
                req.headers = {
                  ...opts.headers,
                  [rotate.header]: rotate.values[rotate.cursor.next++ % rotate.values.length]!,
                };
                return req;
              },
            },
          ],
        }
      : {}),
    timeout: 10,
  } as autocannon.Options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    if (n === latencies.length) {
      const bigger = new Float64Array(latencies.length * 2);
      bigger.set(latencies);
      latencies = bigger;
    }
    latencies[n++] = responseTime;
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  });
  const result = await instance;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const errors = result.errors + result.timeouts;
  if (errors) statuses.error = errors;
  const sorted = latencies.subarray(0, n).sort();
  // autocannon's own duration excludes its start-up: use it for the rate.
  const measured = result.duration > 0 ? result.duration : seconds;
  return {
    requests: n,
    seconds: measured,
    rps: n / measured,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    statuses,
    loadgenCpuUsPerReq: n ? (cpu.user + cpu.system) / n : NaN,
  };
}
