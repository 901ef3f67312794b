/** One micro-benchmark result (shared by the workerd and Node sides and the report). */
export interface MicroCase {
  name: string;
  /** Microseconds per iteration, median of the samples. */
  us: number;
  samples: number[];
  /** Iterations per sample. */
  iterations: number;
  /** Every iteration run, warm-up and calibration included (for CPU-time accounting). */
  totalIterations: number;
  /** workerd's CPU time over all iterations ÷ totalIterations, in µs (workerd only). */
  cpuUs?: number;
}
