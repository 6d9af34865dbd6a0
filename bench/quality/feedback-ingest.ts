// Feedback ingest (issue 17.2): labels per second through the local feedback route's handler and label store
// (body checked against the card, lines appended and fsynced before each 202), against the raw baseline of
// JSON.parse of the same bodies alone. Requests of 1,000 labels (the most one request takes), one at a time and
// 8 in flight (the label store's group commit shares one append and fsync among the requests that wait).
// Goal: at least 20,000 labels/s.
// TODO(lead): once local/serving/gateway.ts serves the feedback route, add the same figure through HTTP
// (node:http client, keep-alive, 8 connections, POST /v1/models/breast-cancer/feedback) beside these.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Row } from '../run';
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
