// Release and alarm events as alerts: one readable line on stderr for the person at the terminal (with the
// body under it for monitoring alerts), and one JSON line in .mlship/alerts.jsonl for anything that reads
// them later. local/monitoring/alert-sinks.ts adds the webhook and the status page's recent alerts.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export type AlertLevel = 'info' | 'warning' | 'critical';

export interface Alert {
  readonly time: string;
  readonly level: AlertLevel;
  readonly model: string;
  /** What happened: release-started, golden-check-failed, traffic-shifted, alarm, rolled-back, promoted, resumed, monitoring. */
  readonly event: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
  /**
   * Monitoring alerts (event 'monitoring'): the readable alert's body, the same text the cloud e-mails;
   * `message` is its subject.
   */
  readonly body?: string;
}

export interface AlertSink {
  emit(alert: Omit<Alert, 'time'>): void;
}

export class LocalAlerts implements AlertSink {
  readonly file: string;

  constructor(
    dir: string,
    private readonly write: (line: string) => void = (line) => process.stderr.write(line),
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, 'alerts.jsonl');
  }

  emit(alert: Omit<Alert, 'time'>): void {
    const full: Alert = { time: new Date().toISOString(), ...alert };
    appendFileSync(this.file, `${JSON.stringify(full)}\n`);
    const tag = full.level === 'info' ? '' : `[${full.level.toUpperCase()}] `;
    const body = full.body ? full.body.replace(/\n$/, '').replace(/^/gm, '    ') + '\n' : '';
    this.write(`${full.time.slice(11, 19)} ${tag}${full.model}: ${full.message}\n${body}`);
  }
}
