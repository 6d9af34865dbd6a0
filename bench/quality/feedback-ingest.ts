// Feedback ingest (issue 17.2): labels per second through the local feedback route's handler and label store
// (body checked against the card, lines appended and fsynced before each 202), against the raw baseline of
// JSON.parse of the same bodies alone. Requests of 1,000 labels (the most one request takes), one at a time and
// 8 in flight (the label store's group commit shares one append and fsync among the requests that wait).
// Goal: at least 20,000 labels/s.
// And the same through the local gateway over HTTP (node:http, keep-alive, 8 connections): what a caller gets.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Row } from '../run';
import type { LoadedManifest } from '../../lambdas/core/manifest/load';
import { LocalGateway } from '../../local/serving/gateway';
import type { FeedbackTarget } from '../../lambdas/core/quality/feedback/validate';
import { handleFeedback } from '../../local/quality/feedback-route';
import { LabelStore } from '../../local/quality/label-store';

const TARGET_LABELS_PER_SECOND = 20_000;
const LABELS_PER_REQUEST = 1000;
const TARGET: FeedbackTarget = { model: 'breast-cancer', task: 'binary', labels: ['malignant', 'benign'], maxBatchSize: 1000 };

/** Request bodies of fresh ids (every label accepted), `round` keeping rounds apart. */
function bodies(count: number, round: string): string[] {
  return Array.from({ length: count }, (_, r) =>
    JSON.stringify({ feedback: Array.from({ length: LABELS_PER_REQUEST }, (_, i) => ({ id: `${round}-${r}-${(i / 4) | 0}-c0ffee0123456789`, index: i % 4, label: i % 3 === 0 ? 'malignant' : 'benign' })) }),
  );
}

/** Labels per second of `requests` bodies through the handler, `inFlight` at a time. */
async function throughHandler(store: LabelStore, requests: string[], inFlight: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < requests.length) {
        const body = requests[next++]!;
        const answer = await handleFeedback(TARGET, store, { method: 'POST', contentType: 'application/json', body }, { maxBodyBytes: 6 * 1024 * 1024 });
        if (answer.statusCode !== 202) throw new Error(`feedback answered ${answer.statusCode}: ${answer.body}`);
      }
    }),
  );
  return (requests.length * LABELS_PER_REQUEST) / ((performance.now() - started) / 1000);
}

function parseOnly(requests: string[]): number {
  const started = performance.now();
  let items = 0;
  for (const body of requests) items += (JSON.parse(body) as { feedback: unknown[] }).feedback.length;
  return items / ((performance.now() - started) / 1000);
}

/** One POST over a keep-alive agent; resolves with the status once the answer is read. */
function post(agent: Agent, port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Labels per second of `requests` bodies POSTed to the gateway's feedback route of breast-cancer, `inFlight` connections. */
async function throughGateway(port: number, requests: string[], inFlight: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  let next = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < requests.length) {
          const status = await post(agent, port, '/v1/models/breast-cancer/feedback', requests[next++]!);
          if (status !== 202) throw new Error(`the gateway's feedback route answered ${status}`);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return (requests.length * LABELS_PER_REQUEST) / ((performance.now() - started) / 1000);
}

/** The feedback route of a real local gateway (breast-cancer of `manifest`), against JSON.parse of the same bodies. */
export async function feedbackIngestOverHttp(manifest: LoadedManifest, options: { readonly quick?: boolean } = {}): Promise<Row[]> {
  const requests = options.quick ? 20 : 100;
  const state = mkdtempSync(join(tmpdir(), 'mlship-bench-feedback-http-'));
  const gateway = await LocalGateway.start({ manifest, port: 0, stateDir: state, alerts: { emit: () => undefined }, throttle: false, monitorIntervalMs: 3_600_000, logger: new Logger({ logLevel: 'ERROR' }) });
  try {
    const port = Number(new URL(gateway.url).port);
    await throughGateway(port, bodies(5, 'warm'), 1);
    const http: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < 3; round++) {
      const set = bodies(requests, `h${round}`);
      raw.push(parseOnly(set));
      http.push(await throughGateway(port, set, 8));
    }
    const [h, r] = [Math.max(...http), Math.max(...raw)];
    const perSecond = (x: number) => `${Math.round(x).toLocaleString('en-US')} labels/s`;
    return [
      { figure: `feedback ingest through the local gateway (HTTP, keep-alive), ${LABELS_PER_REQUEST} labels a request, 8 connections`, value: perSecond(h), baseline: `${perSecond(r)} JSON.parse alone`, ratio: h / r, target: `>= ${TARGET_LABELS_PER_SECOND.toLocaleString('en-US')} labels/s`, ok: h >= TARGET_LABELS_PER_SECOND },
    ];
  } finally {
    await gateway.close();
    rmSync(state, { recursive: true, force: true });
  }
}

export async function feedbackIngest(options: { readonly quick?: boolean } = {}): Promise<Row[]> {
  const requests = options.quick ? 20 : 100;
  const folder = mkdtempSync(join(tmpdir(), 'mlship-bench-feedback-'));
  const { store } = await LabelStore.open(folder, [TARGET]);
  try {
    // Warm up the parser and the store's first files, then interleave rounds, best of three each.
    await throughHandler(store, bodies(5, 'warm'), 1);
    const sequential: number[] = [];
    const concurrent: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < 3; round++) {
      const set = bodies(requests, `r${round}`);
      raw.push(parseOnly(set));
      sequential.push(await throughHandler(store, set, 1));
      concurrent.push(await throughHandler(store, bodies(requests, `c${round}`), 8));
    }
    const best = (xs: number[]) => Math.max(...xs);
    const [s, c, r] = [best(sequential), best(concurrent), best(raw)];
    const perSecond = (x: number) => `${Math.round(x).toLocaleString('en-US')} labels/s`;
    return [
      { figure: `feedback ingest, handler + label store, ${LABELS_PER_REQUEST} labels a request, 8 in flight`, value: perSecond(c), baseline: `${perSecond(r)} JSON.parse alone`, ratio: c / r, target: `>= ${TARGET_LABELS_PER_SECOND.toLocaleString('en-US')} labels/s`, ok: c >= TARGET_LABELS_PER_SECOND },
      { figure: '  the same, one request at a time (an fsync each)', value: perSecond(s), baseline: `${perSecond(r)} JSON.parse alone`, ratio: s / r, target: '-', ok: undefined },
    ];
  } finally {
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  }
}
