// Alert sinks of a local run: the readable alert on the console and in alerts.jsonl, the webhook POST over
// real HTTP on 127.0.0.1, and webhooks that fail, refuse or hang: logged, never thrown.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { AlarmEvent } from '../../../lambdas/core/monitoring/contracts';
import { readableAlert } from '../../../lambdas/core/monitoring/alarms/readable-alert';
import { AlertHub, monitoringAlert, WebhookAlertSink } from '../../../local/monitoring/alert-sinks';
import { LocalAlerts, type Alert } from '../../../local/release/alerts';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-alerts-');

const EVENT: AlarmEvent = {
  state: 'ALARM',
  previousState: 'OK',
  kind: 'api-p99-latency',
  alarmName: 'mlship-local-breast-cancer-api-p99-latency',
  project: 'mlship',
  stage: 'local',
  model: 'breast-cancer',
  version: '3',
  value: 812,
  threshold: 300,
  comparison: '>',
  unit: 'ms',
  time: '2026-11-22T10:00:00.000Z',
  runbook: 'Callers wait. First compare latency by version.',
  dashboardUrl: 'http://127.0.0.1:8080/',
};

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

/** A webhook receiver on 127.0.0.1 answering `status`, or never answering when status is 0. */
async function receiver(status: number): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      if (status !== 0) res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0/secret-path`, received };
}

describe('local alert sinks', () => {
  it('a monitoring alert: subject and body on the console and in alerts.jsonl, the same text readableAlert makes', () => {
    const dir = tempDir();
    const lines: string[] = [];
    const hub = new AlertHub([new LocalAlerts(dir, (l) => lines.push(l))]);
    const readable = readableAlert(EVENT);
    hub.emit(monitoringAlert(readable, EVENT));
    const saved = readFileSync(join(dir, 'alerts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Alert);
    assert.equal(saved.length, 1, 'one line');
    assert.equal(saved[0]!.message, readable.subject, 'the subject is the message');
    assert.equal(saved[0]!.body, readable.body, 'the body kept whole');
    assert.equal(saved[0]!.level, 'critical', 'ALARM is critical');
    assert.deepEqual(saved[0]!.details, { state: 'ALARM', kind: 'api-p99-latency', alarmName: EVENT.alarmName, version: '3', value: 812, threshold: 300, comparison: '>', unit: 'ms', at: EVENT.time }, 'the figures for machines');
    assert.ok(lines[0]!.includes(readable.subject), `console shows the subject: ${lines[0]}`);
    assert.ok(lines[0]!.includes('    What to do: Callers wait.'), `console shows the body indented: ${lines[0]}`);
    assert.deepEqual(hub.recent().map((a) => a.message), [readable.subject], 'kept for the status page');
  });

  it('the webhook gets each alert as a JSON POST with a text field', async () => {
    const hook = await receiver(204);
    const sink = new WebhookAlertSink(hook.url);
    const readable = readableAlert(EVENT);
    const hub = new AlertHub([sink]);
    hub.emit(monitoringAlert(readable, EVENT));
    hub.emit({ level: 'info', model: 'breast-cancer', event: 'promoted', message: 'v3 promoted' });
    await hub.flush();
    assert.equal(hook.received.length, 2, 'two POSTs');
    assert.equal(hook.received[0]!.headers['content-type'], 'application/json', 'JSON');
    assert.equal(hook.received[0]!.body.message, readable.subject, 'the subject');
    assert.equal(hook.received[0]!.body.text, `${readable.subject}\n\n${readable.body}`, 'text: subject and body, for chat webhooks');
    assert.equal(hook.received[1]!.body.text, 'breast-cancer: v3 promoted', 'release alerts too');
    assert.equal(typeof hook.received[0]!.body.time, 'string', 'stamped with its time');
  });

  it('a webhook that answers 500, refuses the connection or hangs is logged without its secret path, and the other sinks still get the alert', async () => {
    const failing = await receiver(500);
    const hanging = await receiver(0);
    const refused = await receiver(204);
    refused.server.close();
    await once(refused.server, 'close');
    const errors: string[] = [];
    const dir = tempDir();
    const hub = new AlertHub([
      new WebhookAlertSink(failing.url, { onError: (m) => errors.push(m) }),
      new WebhookAlertSink(hanging.url, { onError: (m) => errors.push(m), timeoutMs: 300 }),
      new WebhookAlertSink(refused.url, { onError: (m) => errors.push(m) }),
      { emit: () => assert.fail('a sink that throws') },
      new LocalAlerts(dir, () => undefined),
    ]);
    const stderr = process.stderr.write;
    const written: string[] = [];
    process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
    try {
      hub.emit(monitoringAlert(readableAlert(EVENT), EVENT));
    } finally {
      process.stderr.write = stderr;
    }
    await hub.flush();
    assert.equal(errors.length, 3, `three failures logged: ${errors.join(' | ')}`);
    assert.ok(errors.some((e) => e.includes('answered 500')), `the 500: ${errors.join(' | ')}`);
    assert.ok(errors.some((e) => e.includes('no answer in 300 ms')), `the hang: ${errors.join(' | ')}`);
    assert.ok(errors.some((e) => /ECONNREFUSED|failed/.test(e)), `the refusal: ${errors.join(' | ')}`);
    assert.ok(errors.every((e) => !e.includes('secret-path')), 'the webhook path (its secret) is never logged');
    assert.ok(written.some((w) => w.includes('an alert sink failed')), 'the throwing sink is logged');
    assert.equal(readFileSync(join(dir, 'alerts.jsonl'), 'utf8').trim().split('\n').length, 1, 'alerts.jsonl still got it');
  });

  it('a webhook that is not an http URL is refused at start', () => {
    assert.throws(() => new WebhookAlertSink('file:///etc/passwd'), /http or https URL/, 'file: refused');
    assert.throws(() => new WebhookAlertSink('not a url'), /http or https URL/, 'garbage refused');
  });
});
