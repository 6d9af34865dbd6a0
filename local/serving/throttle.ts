// Token buckets per route, the algorithm API Gateway's stage throttling uses: `burstLimit` tokens at
// most, refilled at `rateLimit` per second; a request without a token gets 429.
import type { Throttle } from '../../lambdas/core/manifest/schema';

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly limits: Throttle,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = limits.burstLimit;
    this.updatedAt = now();
  }

  tryTake(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.limits.burstLimit, this.tokens + ((now - this.updatedAt) / 1000) * this.limits.rateLimit);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
