/** One micro-benchmark result (shared by the workerd and Node sides and the report). */
export interface MicroCase {
  name: string;
  /** Microseconds per iteration, median of the samples. */
  us: number;
  samples: number[];
  iterations: number;
}
