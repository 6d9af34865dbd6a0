// Adam over one flat parameter vector (Kingma & Ba, 2015), with the usual defaults.

export interface AdamOptions {
  readonly learningRate: number;
  /** @default 0.9 */
  readonly beta1?: number;
  /** @default 0.999 */
  readonly beta2?: number;
  /** @default 1e-8 */
  readonly epsilon?: number;
}

export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(
    size: number,
    private readonly options: AdamOptions,
  ) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
  }

  /** One step: params -= lr * mhat / (sqrt(vhat) + eps). */
  step(params: Float64Array, grad: Float64Array, learningRate = this.options.learningRate): void {
    this.t++;
    const { beta1, beta2, epsilon } = this;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i]!;
      const m = (this.m[i] = beta1 * this.m[i]! + (1 - beta1) * g);
      const v = (this.v[i] = beta2 * this.v[i]! + (1 - beta2) * g * g);
      params[i]! -= (learningRate * (m / c1)) / (Math.sqrt(v / c2) + epsilon);
    }
  }
}
