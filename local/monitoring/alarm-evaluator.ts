// The local CloudWatch alarms: the alarm catalog's specs (the same thresholds, periods, datapoints to alarm
// and missing-data rule as the stack's alarms) judged on the gateway's own figures, with periods scaled by
// --time-scale. As in the cloud, only each model's composite (serving health) alarm notifies: one alert when
// the model goes into ALARM, naming the alarm that took it there with its figure, and one when it recovers.
// The drift alarm is judged (the status page shows it) but sends nothing: drift's one message is the
// monitor's report.
import { compositeAlarmName, type AlarmSpec } from '../../lambdas/core/monitoring/alarms/alarm-catalog';
import type { AlarmEvent, AlarmKind, AlarmState } from '../../lambdas/core/monitoring/contracts';
import type { LocalMetrics } from './metrics-store';
import { parseMetricMath } from './metric-math';

export interface AlarmStatus {
  readonly name: string;
  readonly kind: AlarmKind;
  readonly model: string;
  readonly state: AlarmState;
  /** The last judged period's figure, in the unit a person reads (ms, %, requests); undefined without data. */
  readonly value?: number;
  readonly threshold: number;
  readonly comparison: string;
  readonly unit: string;
  readonly inComposite: boolean;
  /** ISO time of the last state change. */
  readonly since: string;
}

export interface CompositeStatus {
  readonly name: string;
  readonly model: string;
  readonly state: AlarmState;
  readonly since: string;
  /** The alarm that took the model into ALARM (while it is there). */
  readonly trigger?: string;
}

export interface AlarmEvaluatorOptions {
  readonly project: string;
  readonly stage: string;
  readonly specs: readonly AlarmSpec[];
  readonly metrics: Pick<LocalMetrics, 'metric'>;
  /** Multiplies every period (0.01: a 5-minute period lasts 3 s). @default 1 */
  readonly timeScale?: number;
  /** Told of every composite state change worth a message (into ALARM, and back to OK). */
  readonly onAlert: (event: AlarmEvent) => void;
  readonly dashboardUrl?: string;
  readonly now?: () => number;
  /** Told once per alarm it cannot judge. @default stderr */
  readonly log?: (line: string) => void;
}

interface Judged {
  readonly spec: AlarmSpec;
  readonly periodMs: number;
  readonly evaluate: (values: Readonly<Record<string, number | undefined>>) => number | undefined;
  /** Display figure = metric figure x scale (SageMaker's ModelLatency is in microseconds, people read ms). */
  readonly scale: number;
  lastPeriod: number | undefined;
  breaches: boolean[];
  state: AlarmState;
  since: number;
  /** The last figure the alarm had data for (the status page). */
  value: number | undefined;
  /** The last judged period's figure (undefined: no data then): what a state change reports. */
  judged: number | undefined;
}

interface Composite {
  readonly model: string;
  readonly name: string;
  state: AlarmState;
  since: number;
  trigger: Judged | undefined;
}

/** A judged period ends, then waits this share of a period for answers still being counted. */
const SETTLE = 0.05;

export class AlarmEvaluator {
  private readonly alarms: Judged[];
  private readonly healthAlarms = new Map<string, Composite>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private readonly told = new Set<string>();

  constructor(private readonly options: AlarmEvaluatorOptions) {
    this.now = options.now ?? Date.now;
    const scale = options.timeScale ?? 1;
    const started = this.now();
    this.alarms = options.specs.map((spec) => {
      const ids = Object.keys(spec.metrics);
      const expression = spec.expression ? parseMetricMath(spec.expression) : undefined;
      if (!expression && ids.length !== 1) throw new RangeError(`alarm ${spec.name} has ${ids.length} metrics and no expression`);
      const only = Object.values(spec.metrics)[0];
      return {
        spec,
        periodMs: spec.periodMinutes * 60_000 * scale,
        evaluate: expression ?? ((values) => values[ids[0]!]),
        scale: !expression && only?.namespace === 'AWS/SageMaker' && only.metricName === 'ModelLatency' ? 1 / 1000 : 1,
        lastPeriod: undefined,
        breaches: [],
        state: 'INSUFFICIENT_DATA',
        since: started,
        value: undefined,
        judged: undefined,
      };
    });
    for (const model of new Set(options.specs.filter((s) => s.inComposite).map((s) => s.model))) {
      this.healthAlarms.set(model, { model, name: compositeAlarmName(options.project, options.stage, model), state: 'INSUFFICIENT_DATA', since: started, trigger: undefined });
    }
  }

  /** Judges on a timer, a few times per shortest period. */
  start(): void {
    if (this.timer || this.alarms.length === 0) return;
    const shortest = Math.min(...this.alarms.map((a) => a.periodMs));
    this.timer = setInterval(() => this.tick(), Math.min(5000, Math.max(20, shortest / 5)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Judges every period that ended since the last tick, then the composites. */
  tick(now = this.now()): void {
    const changed = new Set<Judged>();
    for (const alarm of this.alarms) {
      const latest = Math.floor((now - SETTLE * alarm.periodMs) / alarm.periodMs) - 1;
      const next = alarm.lastPeriod === undefined ? latest : Math.max(alarm.lastPeriod + 1, latest - alarm.spec.evaluationPeriods + 1);
      for (let period = next; period <= latest; period++) {
        try {
          if (this.judge(alarm, period, now)) changed.add(alarm);
        } catch (error) {
          // An expression this evaluator cannot compute: that alarm keeps its state, the others go on.
          alarm.lastPeriod = period;
          const line = `alarm ${alarm.spec.name} cannot be judged locally: ${(error as Error).message}`;
          if (!this.told.has(line)) {
            this.told.add(line);
            (this.options.log ?? ((l: string) => process.stderr.write(`mlship: ${l}\n`)))(line);
          }
        }
      }
    }
    for (const composite of this.healthAlarms.values()) this.settle(composite, changed, now);
  }

  /** Judges one period of an alarm; returns whether its state changed. */
  private judge(alarm: Judged, period: number, now: number): boolean {
    const { spec } = alarm;
    const from = period * alarm.periodMs;
    const to = from + alarm.periodMs;
    const values = Object.fromEntries(Object.entries(spec.metrics).map(([id, ref]) => [id, this.options.metrics.metric(spec.model, ref, from, to)]));
    const value = alarm.evaluate(values);
    // treatMissingData notBreaching: a period without data counts as a good one.
    const breaching = value !== undefined && (spec.comparison === '>' ? value > spec.threshold : value >= spec.threshold);
    alarm.lastPeriod = period;
    alarm.breaches = [...alarm.breaches, breaching].slice(-spec.evaluationPeriods);
    if (value !== undefined) alarm.value = value;
    alarm.judged = value;
    const state: AlarmState = alarm.breaches.filter(Boolean).length >= spec.datapointsToAlarm ? 'ALARM' : 'OK';
    if (state === alarm.state) return false;
    alarm.state = state;
    alarm.since = now;
    return true;
  }

  private settle(composite: Composite, changed: ReadonlySet<Judged>, now: number): void {
    const children = this.alarms.filter((a) => a.spec.inComposite && a.spec.model === composite.model);
    const inAlarm = children.filter((a) => a.state === 'ALARM');
    const state: AlarmState = inAlarm.length > 0 ? 'ALARM' : children.every((a) => a.state === 'INSUFFICIENT_DATA') ? 'INSUFFICIENT_DATA' : 'OK';
    if (state === composite.state) return;
    const previous = composite.state;
    composite.state = state;
    composite.since = now;
    if (state === 'ALARM') {
      // The child that just went into ALARM names the incident, as TriggeringChildren does in the cloud.
      composite.trigger = inAlarm.find((a) => changed.has(a)) ?? inAlarm[0]!;
      this.options.onAlert(this.event(composite.trigger, 'ALARM', previous, now));
    } else if (state === 'OK' && previous === 'ALARM' && composite.trigger) {
      this.options.onAlert(this.event(composite.trigger, 'OK', previous, now));
      composite.trigger = undefined;
    }
  }

  private event(alarm: Judged, state: AlarmState, previous: AlarmState, now: number): AlarmEvent {
    const { spec } = alarm;
    return {
      state,
      previousState: previous,
      kind: spec.kind,
      alarmName: spec.name,
      project: this.options.project,
      stage: this.options.stage,
      model: spec.model,
      version: spec.version,
      ...(alarm.judged !== undefined ? { value: alarm.judged * alarm.scale } : {}),
      threshold: spec.threshold * alarm.scale,
      comparison: spec.comparison,
      unit: spec.unit,
      time: new Date(now).toISOString(),
      runbook: spec.runbook,
      ...(this.options.dashboardUrl ? { dashboardUrl: this.options.dashboardUrl } : {}),
    };
  }

  /** Every alarm's state and last figure. */
  statuses(): AlarmStatus[] {
    return this.alarms.map((a) => ({
      name: a.spec.name,
      kind: a.spec.kind,
      model: a.spec.model,
      state: a.state,
      ...(a.value !== undefined ? { value: a.value * a.scale } : {}),
      threshold: a.spec.threshold * a.scale,
      comparison: a.spec.comparison,
      unit: a.spec.unit,
      inComposite: a.spec.inComposite,
      since: new Date(a.since).toISOString(),
    }));
  }

  /** Each model's composite (serving health) alarm. */
  composites(): CompositeStatus[] {
    return [...this.healthAlarms.values()].map((c) => ({
      name: c.name,
      model: c.model,
      state: c.state,
      since: new Date(c.since).toISOString(),
      ...(c.trigger ? { trigger: c.trigger.spec.name } : {}),
    }));
  }
}
