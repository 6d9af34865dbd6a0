// Where the local gateway's alerts go besides the console and .mlship/alerts.jsonl (LocalAlerts): a webhook
// (`--alert-webhook URL` or MLSHIP_ALERT_WEBHOOK) that gets each alert as a JSON POST, and the status page's
// list of recent alerts. Monitoring alerts are the readable alerts the cloud e-mails: subject and body.
import type { AlarmEvent, ReadableAlert } from '../../lambdas/core/monitoring/contracts';
import type { Alert, AlertSink } from '../release/alerts';

/** The alert a monitoring state change becomes locally: the readable alert's subject as the message, its body kept. */
export function monitoringAlert(alert: ReadableAlert, event: AlarmEvent): Omit<Alert, 'time'> {
  return {
    level: event.state === 'ALARM' ? 'critical' : event.state === 'OK' ? 'info' : 'warning',
    model: event.model,
    event: 'monitoring',
    message: alert.subject,
    body: alert.body,
    details: {
      state: event.state,
      kind: event.kind,
      alarmName: event.alarmName,
      version: event.version,
      ...(event.value !== undefined ? { value: event.value } : {}),
      ...(event.threshold !== undefined ? { threshold: event.threshold, comparison: event.comparison ?? '>' } : {}),
      unit: event.unit,
      at: event.time,
    },
  };
}

/** Sends every alert to every sink, stamped with one time, and keeps the latest for the status page. */
export class AlertHub implements AlertSink {
  private readonly latest: Alert[] = [];

  constructor(
    private readonly sinks: readonly AlertSink[],
    private readonly keep = 50,
  ) {}

  emit(alert: Omit<Alert, 'time'>): void {
    const full: Alert = { time: new Date().toISOString(), ...alert };
    this.latest.push(full);
    if (this.latest.length > this.keep) this.latest.splice(0, this.latest.length - this.keep);
    for (const sink of this.sinks) {
      try {
        sink.emit(full);
      } catch (error) {
        // One broken sink (a full disk) must not keep the alert from the others, nor fail a request.
        process.stderr.write(`mlship: an alert sink failed: ${(error as Error).message}\n`);
      }
    }
  }

  /** The latest alerts, newest first. */
  recent(): Alert[] {
    return [...this.latest].reverse();
  }

  /** Waits for sinks that send in the background (the webhook). */
  async flush(): Promise<void> {
    await Promise.all(this.sinks.map((s) => (s instanceof WebhookAlertSink ? s.flush() : undefined)));
  }
}

export interface WebhookAlertSinkOptions {
  /** Longest wait for the webhook's answer. @default 5000 */
  readonly timeoutMs?: number;
  /** Told of a failed delivery (the alert is not retried). @default a line on stderr */
  readonly onError?: (message: string) => void;
}

/**
 * POSTs each alert as JSON: the alert's fields (the same as its alerts.jsonl line) and `text`, the subject and
 * body together, which chat incoming webhooks show as the message. Off the caller's path: emit returns at
 * once, and a webhook that fails or hangs is logged, never thrown.
 */
export class WebhookAlertSink implements AlertSink {
  private readonly pending = new Set<Promise<void>>();
  /** The URL without its path and query (a chat webhook's path is its secret): what error lines show. */
  readonly shownAs: string;

  constructor(
    readonly url: string,
    private readonly options: WebhookAlertSinkOptions = {},
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RangeError(`alert webhook must be an http or https URL, received '${url.slice(0, 200)}'`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new RangeError(`alert webhook must be an http or https URL, received '${parsed.protocol}' URL`);
    this.shownAs = parsed.origin;
  }

  emit(alert: Omit<Alert, 'time'> & { time?: string }): void {
    const full = { time: new Date().toISOString(), ...alert };
    const text = full.body ? `${full.message}\n\n${full.body}` : `${full.model}: ${full.message}`;
    const sending = this.send(JSON.stringify({ ...full, text })).finally(() => this.pending.delete(sending));
    this.pending.add(sending);
  }

  private async send(payload: string): Promise<void> {
    const fail = this.options.onError ?? ((message: string) => process.stderr.write(`mlship: ${message}\n`));
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) fail(`alert webhook ${this.shownAs} answered ${response.status}; the alert is in alerts.jsonl`);
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `no answer in ${this.options.timeoutMs ?? 5000} ms` : ((error as { cause?: Error }).cause?.message ?? (error as Error).message);
      fail(`alert webhook ${this.shownAs} failed: ${reason}; the alert is in alerts.jsonl`);
    }
  }

  /** Resolves when every alert sent so far has been delivered or has failed. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
