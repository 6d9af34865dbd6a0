// What one version's requests looked like during one evaluation period: the figures the release alarms
// judge (the local stand-in for CloudWatch's one-minute datapoints).

/** Latency samples kept per period; past it, reservoir sampling keeps the percentile honest. */
const MAX_SAMPLES = 50_000;

export interface WindowFigures {
  readonly requests: number;
  readonly serverErrors: number;
  readonly throttles: number;
  /** Percent of requests answered 5xx; 0 when there were none. */
  readonly errorRatePercent: number;
  /** Scoring requests (predict, infer): the only ones whose latency is judged. */
  readonly scoringRequests: number;
  /** 99th percentile latency of the scoring requests in ms; 0 when there were none. */
  readonly p99LatencyMs: number;
}

export class TrafficWindow {
  private requests = 0;
  private serverErrors = 0;
  private throttles = 0;
  private scoringRequests = 0;
  private latencies: number[] = [];
  private seen = 0;
  private random = 1;

  /**
   * Counts one request; `latencyMs` only for a scoring one (undefined for an :explain request, slow by design,
   * and the other routes): it still counts as a request and, answered 5xx, as an error, as the cloud's Requests
   * and ServerErrors do, but only HandlerLatency's requests are in the p99.
   */
  record(statusCode: number, latencyMs: number | undefined): void {
    this.requests++;
    if (statusCode >= 500) this.serverErrors++;
    if (statusCode === 429) this.throttles++;
    if (latencyMs === undefined) return;
    this.scoringRequests++;
    this.seen++;
    if (this.latencies.length < MAX_SAMPLES) this.latencies.push(latencyMs);
    else {
      // Reservoir sampling (algorithm R) with a small deterministic generator: every request of the
      // period has the same chance to be in the sample.
      this.random = (Math.imul(this.random, 1664525) + 1013904223) >>> 0;
      const slot = this.random % this.seen;
      if (slot < MAX_SAMPLES) this.latencies[slot] = latencyMs;
    }
  }

  figures(): WindowFigures {
    return {
      requests: this.requests,
      serverErrors: this.serverErrors,
      throttles: this.throttles,
      errorRatePercent: this.requests === 0 ? 0 : (100 * this.serverErrors) / this.requests,
      scoringRequests: this.scoringRequests,
      p99LatencyMs: percentile(this.latencies, 0.99),
    };
  }

  /** The figures of the period that just ended, and a fresh period. */
  roll(): WindowFigures {
    const figures = this.figures();
    this.requests = 0;
    this.serverErrors = 0;
    this.throttles = 0;
    this.scoringRequests = 0;
    this.latencies = [];
    this.seen = 0;
    return figures;
  }
}

/** Nearest-rank percentile (the definition CloudWatch's pNN statistics use). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
