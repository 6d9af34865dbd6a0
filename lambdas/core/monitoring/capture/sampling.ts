// Which requests are captured: each one independently, with probability capturePercent / 100 (a Bernoulli
// draw per request, so the captured share of any stretch of traffic is the configured share on average,
// and the captured requests are a fair sample of it: no "every tenth" pattern to alias with the traffic).

export class CaptureSampler {
  private readonly share: number;

  /**
   * @param percent share of requests captured, 0 to 100 (0: none, 100: every one)
   * @param random a uniform [0, 1) source; tests pass a seeded one
   */
  constructor(
    readonly percent: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(percent >= 0 && percent <= 100)) throw new RangeError(`capture percent must be between 0 and 100, received ${percent}`);
    this.share = percent / 100;
  }

  /** Whether to capture the next request. */
  take(): boolean {
    if (this.share === 0) return false;
    if (this.share === 1) return true;
    return this.random() < this.share;
  }
}
