// The local release controller: what CodeDeploy does for a Lambda alias, for one model in the local
// gateway. A new version must pass its golden cases before it gets any traffic; then it takes the
// manifest's share of requests, its own requests are judged against the release alarms every
// evaluation period, and it is promoted at the end of the schedule or rolled back on the first alarm.
import { randomUUID } from 'node:crypto';
import type { ServedModel } from '../../lambdas/core/models/inference-session';
import type { InferenceHandler } from '../../lambdas/inference/handler';
import type { Release } from '../../lambdas/core/manifest/schema';
import { isLatencyJudged } from '../../lambdas/core/monitoring/alarms/alarm-catalog';
import type { AlertSink } from './alerts';
import { HISTORY_LIMIT, type Deployment, type ModelReleaseState, type ReleaseOutcome } from './state';
import { TrafficWindow, type WindowFigures } from './window';

/** CloudWatch evaluates the cloud alarms over one-minute periods; the local controller does the same. */
export const EVALUATION_PERIOD_MS = 60_000;

export interface VersionHandle {
  readonly version: number;
  readonly model: ServedModel;
  readonly handler: InferenceHandler;
}

/** The candidate's share of traffic at each step; the last step's interval ends in promotion. */
export function weightSchedule(release: Pick<Release, 'strategy' | 'percent'>): number[] {
  switch (release.strategy) {
    case 'canary':
      return [release.percent];
    case 'linear': {
      const steps: number[] = [];
      for (let weight = release.percent; weight < 100; weight += release.percent) steps.push(weight);
      return [...steps, 100];
    }
    case 'all-at-once':
      return [100];
  }
}

/** Which alarm a period's figures breach, as a sentence; undefined when none does. */
export function breachedAlarm(figures: WindowFigures, alarms: Release['alarms']): string | undefined {
  if (figures.throttles > alarms.throttles) return `throttles ${figures.throttles} > ${alarms.throttles}`;
  if (figures.requests < alarms.minRequests) return undefined;
  if (figures.errorRatePercent > alarms.errorRatePercent) {
    return `error rate ${figures.errorRatePercent.toFixed(1)}% > ${alarms.errorRatePercent}% (${figures.serverErrors} of ${figures.requests} requests answered 5xx)`;
  }
  if (figures.p99LatencyMs > alarms.p99LatencyMs) {
    return `p99 latency ${figures.p99LatencyMs.toFixed(1)} ms > ${alarms.p99LatencyMs} ms (${figures.scoringRequests} scoring requests of ${figures.requests})`;
  }
  return undefined;
}

export interface ReleaseStatus {
  readonly model: string;
  readonly live: number;
  /** Versions taking traffic now, with their share in percent. */
  readonly traffic: readonly { readonly version: number; readonly weight: number }[];
  readonly deployment?: Deployment & { readonly schedule: readonly number[]; readonly intervalMinutes: number };
  readonly rejected: readonly number[];
  readonly lastOutcome?: ReleaseOutcome;
}

export interface ModelReleaseOptions {
  readonly name: string;
  readonly release: Release;
  readonly state: ModelReleaseState;
  readonly stable: VersionHandle;
  /** Present while a deployment is in progress (state.deployment says where it stands). */
  readonly candidate?: VersionHandle;
  readonly alerts: AlertSink;
  /** Writes the state after every change. */
  readonly persist: () => void;
  /** Multiplies every duration: 0.01 turns a 5-minute canary into 3 seconds. @default 1 */
  readonly timeScale?: number;
}

export class ModelRelease {
  private stable: VersionHandle;
  private candidate: VersionHandle | undefined;
  private readonly window = new TrafficWindow();
  private readonly schedule: number[];
  private periodsInStep = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Smooth weighted split: the candidate takes exactly `weight` requests in every 100. */
  private credit = 0;

  constructor(private readonly options: ModelReleaseOptions) {
    this.stable = options.stable;
    this.candidate = options.candidate;
    this.schedule = weightSchedule(options.release);
    if (this.candidate && this.deployment) this.startTimer();
  }

  get name(): string {
    return this.options.name;
  }

  private get state(): ModelReleaseState {
    return this.options.state;
  }

  private get deployment(): Deployment | undefined {
    return this.state.deployment;
  }

  /** The version that answers the next request. */
  pick(): VersionHandle {
    const candidate = this.candidate;
    const weight = this.deployment?.weight ?? 0;
    if (!candidate || weight <= 0) return this.stable;
    if (weight >= 100) return candidate;
    this.credit += weight;
    if (this.credit >= 100) {
      this.credit -= 100;
      return candidate;
    }
    return this.stable;
  }

  /**
   * Counts a request answered by `version`: only the candidate's requests are judged, and the latency only of
   * its scoring requests (`operation` predict or infer: isLatencyJudged, as the cloud's HandlerLatency); an
   * :explain request counts as a request and an error, never in the p99.
   */
  record(version: number, statusCode: number, latencyMs: number, operation: string | undefined): void {
    if (this.candidate && version === this.candidate.version) this.window.record(statusCode, isLatencyJudged(operation) ? latencyMs : undefined);
  }

  status(): ReleaseStatus {
    const deployment = this.deployment;
    const weight = this.candidate ? (deployment?.weight ?? 0) : 0;
    const traffic = [
      ...(weight < 100 ? [{ version: this.stable.version, weight: 100 - weight }] : []),
      ...(this.candidate && weight > 0 ? [{ version: this.candidate.version, weight }] : []),
    ];
    return {
      model: this.name,
      live: this.state.live,
      traffic,
      ...(deployment ? { deployment: { ...deployment, schedule: this.schedule, intervalMinutes: this.options.release.intervalMinutes } } : {}),
      rejected: this.state.rejected,
      ...(this.state.history.length > 0 ? { lastOutcome: this.state.history[this.state.history.length - 1] } : {}),
    };
  }

  /** Ends the deployment in progress with the candidate live. Returns false when there is none. */
  promote(by: ReleaseOutcome['by'], reason: string): boolean {
    const { candidate, deployment } = this;
    if (!candidate || !deployment) return false;
    this.stopTimer();
    this.finish(deployment, 'promoted', by, reason);
    this.state.live = candidate.version;
    const old = this.stable;
    this.stable = candidate;
    this.candidate = undefined;
    this.options.persist();
    this.options.alerts.emit({ level: 'info', model: this.name, event: 'promoted', message: `v${candidate.version} promoted: all traffic, v${old.version} retired (${reason})`, details: { from: old.version, to: candidate.version, by } });
    return true;
  }

  /** Ends the deployment in progress with all traffic back on the stable version. */
  rollback(by: ReleaseOutcome['by'], reason: string): boolean {
    const { candidate, deployment } = this;
    if (!candidate || !deployment) return false;
    this.stopTimer();
    this.finish(deployment, 'rolled-back', by, reason);
    this.state.rejected = [...new Set([...this.state.rejected, candidate.version])];
    this.candidate = undefined;
    this.options.persist();
    this.options.alerts.emit({
      level: by === 'controller' ? 'critical' : 'warning',
      model: this.name,
      event: 'rolled-back',
      message: `v${candidate.version} rolled back: all traffic on v${this.stable.version} (${reason})`,
      details: { from: this.stable.version, to: candidate.version, by, reason },
    });
    return true;
  }

  /** Stops the timers (the gateway is closing); the deployment stays in the state and resumes at the next start. */
  stop(): void {
    this.stopTimer();
  }

  /** The models this release holds sessions for. */
  get versions(): VersionHandle[] {
    return this.candidate ? [this.stable, this.candidate] : [this.stable];
  }

  private finish(deployment: Deployment, outcome: ReleaseOutcome['outcome'], by: ReleaseOutcome['by'], reason: string): void {
    const entry: ReleaseOutcome = { id: deployment.id, from: deployment.from, to: deployment.to, outcome, reason, by, at: new Date().toISOString() };
    this.state.history = [...this.state.history, entry].slice(-HISTORY_LIMIT);
    this.state.deployment = undefined;
  }

  private startTimer(): void {
    const period = EVALUATION_PERIOD_MS * (this.options.timeScale ?? 1);
    this.timer = setInterval(() => this.evaluate(), period);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One evaluation period ended: judge the candidate's requests, then move along the schedule. */
  private evaluate(): void {
    const deployment = this.deployment;
    const candidate = this.candidate;
    if (!deployment || !candidate) return this.stopTimer();
    const figures = this.window.roll();
    const alarm = breachedAlarm(figures, this.options.release.alarms);
    if (alarm) {
      this.options.alerts.emit({ level: 'critical', model: this.name, event: 'alarm', message: `v${candidate.version} alarm: ${alarm}`, details: { version: candidate.version, ...figures } });
      this.rollback('controller', `alarm: ${alarm}`);
      return;
    }
    this.periodsInStep++;
    if (this.periodsInStep < this.options.release.intervalMinutes) return;
    this.periodsInStep = 0;
    const next = deployment.step + 1;
    if (next >= this.schedule.length) {
      this.promote('controller', `no alarm through the ${this.options.release.strategy} schedule`);
      return;
    }
    deployment.step = next;
    deployment.weight = this.schedule[next]!;
    deployment.stepStartedAt = new Date().toISOString();
    this.options.persist();
    this.options.alerts.emit({ level: 'info', model: this.name, event: 'traffic-shifted', message: `v${candidate.version} now takes ${deployment.weight}% of traffic (step ${next + 1} of ${this.schedule.length})`, details: { ...figures } });
  }
}

/** A new deployment record from `from` to `to`, at the first step of the schedule. */
export function newDeployment(from: number, to: number, release: Release): Deployment {
  const now = new Date().toISOString();
  return { id: randomUUID(), from, to, strategy: release.strategy, weight: weightSchedule(release)[0]!, step: 0, startedAt: now, stepStartedAt: now };
}
