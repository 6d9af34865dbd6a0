// The gate's notifications report both figures for both models (issue 17.4): the held-out rows the gate
// decides on, and the newest labelled production window, or that there was none.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EvaluationResult, GatherResult, RetrainSettings } from '../../../../lambdas/core/retrain/contract';
import { productionRowsOf } from '../../../../lambdas/core/retrain/evaluate';
import { registeredMessage, rejectedMessage } from '../../../../lambdas/core/retrain/messages';

const settings: RetrainSettings = {
  project: 'p',
  stage: 'dev',
  model: 'breast-cancer',
  liveVersion: 1,
  metric: 'accuracy',
  tolerance: 0.01,
  minRows: 100,
  dataBucket: 'data',
  registryBucket: 'registry',
  candidateParameter: '/p/dev/breast-cancer/candidate',
  defaultDataPrefix: 'training-data/breast-cancer/',
};
const PRODUCTION_KEY = 'training-data/breast-cancer/production-20261207T00Z-20261208T00Z-labelled.csv';
const data: GatherResult = {
  source: 's3://data/training-data/breast-cancer/',
  prefix: 'training-data/breast-cancer/',
  files: [
    { key: 'training-data/breast-cancer/base.csv', rows: 569, accepted: 569, rejected: 0 },
    { key: 'training-data/breast-cancer/production-20261206T00Z-20261207T00Z-labelled.csv', rows: 90, accepted: 88, rejected: 2 },
    { key: PRODUCTION_KEY, rows: 150, accepted: 150, rejected: 0 },
  ],
  skipped: [],
  rowsRead: 809,
  rowsAccepted: 807,
  rowsRejected: 2,
  classCounts: { malignant: 300, benign: 507 },
  dataKey: '_work/retrain/e1/data.csv',
  sha256: 'x',
  rejectsKey: '_work/retrain/e1/rejects.jsonl',
  firstRejects: [],
};
const evaluation: EvaluationResult = {
  metric: 'accuracy',
  candidateScore: 0.9565,
  liveScore: 0.9737,
  tolerance: 0.01,
  threshold: 0.9637,
  heldOutRows: 162,
  candidateVersion: 2,
  liveVersion: 1,
  candidate: { accuracy: 0.9565, macroF1: 0.951, rocAuc: 0.99 },
  live: { accuracy: 0.9737, macroF1: 0.9712, rocAuc: 0.995 },
  evaluationKey: '_work/retrain/e1/evaluation.json',
  production: { key: PRODUCTION_KEY, from: '2026-12-07T00:00:00.000Z', to: '2026-12-08T00:00:00.000Z', rows: 150, trainedOn: 120, candidate: { accuracy: 0.94, macroF1: 0.93 }, live: { accuracy: 0.8133, macroF1: 0.8 } },
  rejectedMessage: '',
};

describe('the retrain notifications', () => {
  it('the rejection gives held-out and production figures for both models, and says which one the gate decided on', () => {
    const message = rejectedMessage({ settings, data, trainRows: 645, evaluation, execution: 'e1' });
    const lines = message.split('\n');
    assert.equal(lines[0], 'breast-cancer: candidate v2 not registered: accuracy 0.9565 < live v1 0.9737 - 0.01 on 162 held-out rows.');
    assert.ok(lines.includes('Held out (162 rows): candidate v2 accuracy 0.9565, macro F1 0.951, ROC AUC 0.99; live v1 accuracy 0.9737, macro F1 0.9712, ROC AUC 0.995.'), message);
    assert.ok(
      lines.includes(
        `Latest labelled production window (2026-12-07 00:00 to 2026-12-08 00:00 UTC, 150 rows from ${PRODUCTION_KEY}; the candidate trained on 120 of them): ` +
          'candidate v2 accuracy 0.94, macro F1 0.93; live v1 accuracy 0.8133, macro F1 0.8. The gate decides on the held-out rows, which neither model trained on.',
      ),
      message,
    );
  });

  it('the registration gives them too; without production rows both say the gate judged on the held-out rows alone', () => {
    const registered = registeredMessage({ settings, data, trainRows: 645, evaluation, execution: 'e1', location: 's3://registry/breast-cancer/2/', fetchCommand: undefined });
    assert.match(registered, /Latest labelled production window \(2026-12-07 00:00 to 2026-12-08 00:00 UTC, 150 rows/);
    const none = { ...evaluation, production: null };
    for (const message of [rejectedMessage({ settings, data, trainRows: 645, evaluation: none, execution: 'e1' }), registeredMessage({ settings, data, trainRows: 645, evaluation: none, execution: 'e1', location: 'x', fetchCommand: undefined })]) {
      assert.ok(message.includes('Production: no labelled production rows among the gathered files, so the gate judged on the held-out rows alone.'), message);
    }
  });
});

describe('productionRowsOf', () => {
  it('finds the newest production file and its rows in data.csv (the accepted rows of the files before it come first)', () => {
    assert.deepEqual(productionRowsOf(data), { key: PRODUCTION_KEY, window: { from: new Date('2026-12-07T00:00:00Z'), to: new Date('2026-12-08T00:00:00Z') }, start: 569 + 88, end: 569 + 88 + 150 });
    assert.equal(productionRowsOf({ files: [data.files[0]!] }), undefined);
  });
});
