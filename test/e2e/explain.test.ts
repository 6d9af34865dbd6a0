// POST /v1/models/<name>:explain through the real local gateway, called from Python's http.client: a copy of
// the shipped models (each version with its background sample), a version without one, and a copy of digits
// with a deadline far too short for its budget.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCsvFile, toNumericTable } from '../../lambdas/core/common/csv';
import { BACKGROUND_FILE, backgroundFileText, sampleBackground } from '../../lambdas/core/explain/background';
import { loadManifest } from '../../lambdas/core/manifest/load';
import { sha256Hex } from '../../lambdas/core/models/model-artifact';
import { LocalGateway } from '../../local/serving/gateway';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-explain-');
const projectModels = join(import.meta.dirname, '..', '..', 'models');

/** Gives a copied version folder a background sample when its card has none yet (cards written before issue 19). */
function ensureBackground(dir: string, data: string, labelColumn: string): void {
  const cardPath = join(dir, 'model.json');
  const card = JSON.parse(readFileSync(cardPath, 'utf8')) as { input: { features: string[] }; explanation?: unknown };
  if (card.explanation && existsSync(join(dir, BACKGROUND_FILE))) return;
  const table = toNumericTable(readCsvFile(data), labelColumn);
  const p = card.input.features.length;
  const background = sampleBackground(Float32Array.from(table.x.data), table.x.rows, p, 19, 100);
  const text = backgroundFileText(card.input.features, background);
  writeFileSync(join(dir, BACKGROUND_FILE), text);
  card.explanation = { background: { file: BACKGROUND_FILE, rows: background.length / p, sha256: sha256Hex(Buffer.from(text)), seed: 19, source: `100 of the data set's ${table.x.rows} rows (test copy)` } };
  writeFileSync(cardPath, JSON.stringify(card, null, 2));
}

/** A copy of `from` served as model `name`, its card renamed and with or without its background. */
function copyVersion(root: string, from: string, name: string, keepBackground: boolean): void {
  const dir = join(root, name, '1');
  cpSync(join(root, from, '1'), dir, { recursive: true });
  const card = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { name: string; explanation?: unknown };
  card.name = name;
  if (!keepBackground) delete card.explanation;
  writeFileSync(join(dir, 'model.json'), JSON.stringify(card, null, 2));
}

const MANIFEST = `
api: { maxBodyBytes: 1048576 }
models:
  - name: breast-cancer
    version: 1
  - name: digits
    version: 1
    runtime: sagemaker
    maxBatchSize: 500
  - name: no-background
    version: 1
  - name: digits-hurried
    version: 1
    explain: { timeoutMs: 10, maxEvaluations: 10000000 }
`;

const CLIENT = `
import http.client, json, sys
port = int(sys.argv[1]); bc = json.loads(sys.argv[2]); digit = json.loads(sys.argv[3])
conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
def send(name, path, body):
    conn.request('POST', path, body=json.dumps(body), headers={'content-type': 'application/json'})
    r = conn.getresponse()
    print(json.dumps({'name': name, 'status': r.status, 'version': r.getheader('x-model-version'), 'id': r.getheader('x-inference-id'), 'body': json.loads(r.read())}))
send('breast-cancer', '/v1/models/breast-cancer:explain', {'instances': bc})
send('digits', '/v1/models/digits:explain', {'instances': [digit]})
send('over-limit', '/v1/models/breast-cancer:explain', {'instances': [bc[0]] * 17})
send('unknown', '/v1/models/iris:explain', {'instances': [bc[0]]})
send('no-background', '/v1/models/no-background:explain', {'instances': [bc[0]]})
send('hurried', '/v1/models/digits-hurried:explain', {'instances': [digit, digit]})
conn.close()
`;

interface Explanation {
  method: string;
  output: string;
  label?: string;
  baseValue: number;
  prediction: number;
  attributions: Record<string, number>;
  standardError?: Record<string, number>;
  additivityError: number;
  complete: boolean;
}
interface Answer {
  name: string;
  status: number;
  version: string | null;
  id: string | null;
  body: { predictions?: Array<{ label: string; probabilities: Record<string, number> }>; explanations?: Explanation[]; error?: { code: string; message: string } };
}

const sum = (values: Record<string, number>): number => Object.values(values).reduce((a, b) => a + b, 0);

describe('POST /v1/models/<name>:explain through the local gateway, from Python', () => {
  const root = tempDir();
  let gateway: LocalGateway;
  const answers = new Map<string, Answer>();
  let bcRows: number[][];
  let bcFeatures: string[];
  let digitFeatures: string[];

  before(async () => {
    for (const model of ['breast-cancer', 'digits']) cpSync(join(projectModels, model, '1'), join(root, model, '1'), { recursive: true });
    ensureBackground(join(root, 'breast-cancer', '1'), join(projectModels, 'breast-cancer', 'data', 'breast_cancer.csv'), 'diagnosis');
    ensureBackground(join(root, 'digits', '1'), join(projectModels, 'digits', 'data', 'digits.csv.gz'), 'digit');
    copyVersion(root, 'breast-cancer', 'no-background', false);
    copyVersion(root, 'digits', 'digits-hurried', true);
    writeFileSync(join(root, 'manifest.yaml'), MANIFEST);
    const manifest = loadManifest(join(root, 'manifest.yaml'));
    const bc = manifest.models.find((m) => m.entry.name === 'breast-cancer')!.card;
    const digits = manifest.models.find((m) => m.entry.name === 'digits')!.card;
    bcFeatures = bc.input.features;
    digitFeatures = digits.input.features;
    bcRows = bc.golden.slice(0, 3).map((g) => g.input);
    gateway = await LocalGateway.start({ manifest, port: 0, stateDir: tempDir(), alerts: { emit: () => undefined }, monitorIntervalMs: 3_600_000 });
    const port = new URL(gateway.url).port;
    const output = await new Promise<string>((resolve, reject) =>
      execFile('python3', ['-c', CLIENT, port, JSON.stringify(bcRows), JSON.stringify(digits.golden[0]!.input)], { timeout: 300_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`python3 failed: ${error.message}\n${stderr}`)) : resolve(stdout),
      ),
    );
    for (const line of output.trim().split('\n')) {
      const answer = JSON.parse(line) as Answer;
      answers.set(answer.name, answer);
    }
  });
  after(() => gateway?.close());

  it('breast-cancer (logreg): exact linear SHAP of the log-odds, base value + attributions = the prediction within additivityError, no standard errors', () => {
    const a = answers.get('breast-cancer')!;
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.version, '1');
    assert.match(a.id!, /^[A-Za-z0-9_-]{22}$/);
    const { predictions, explanations } = a.body;
    assert.equal(predictions!.length, 3);
    assert.equal(explanations!.length, 3);
    explanations!.forEach((e, i) => {
      assert.equal(e.method, 'linear-shap: log-odds of the predicted class');
      assert.equal(e.output, 'logit');
      assert.equal(e.label, predictions![i]!.label, 'the predicted class is explained');
      assert.deepEqual(Object.keys(e.attributions), bcFeatures);
      assert.equal(e.standardError, undefined, 'exact: no standard errors');
      assert.equal(e.complete, true);
      assert.ok(e.additivityError < 1e-9);
      assert.ok(Math.abs(e.baseValue + sum(e.attributions) - e.prediction) <= e.additivityError + 1e-9);
      // The logit the answer's own probabilities imply (float32, rounded in the JSON): the same number.
      const p = predictions![i]!.probabilities[e.label!]!;
      if (p < 0.999) assert.ok(Math.abs(Math.log(p / (1 - p)) - e.prediction) < 1e-3, `log-odds ${Math.log(p / (1 - p))} vs ${e.prediction}`);
      assert.ok(e.prediction > 0, 'the predicted class has positive log-odds');
    });
  });

  it('digits (MLP on the SageMaker path): permutation SHAP of the probability, standard errors for every feature, additivity', () => {
    const a = answers.get('digits')!;
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const e = a.body.explanations![0]!;
    const predicted = a.body.predictions![0]!;
    assert.equal(e.method, 'permutation-shap: probability of the predicted class');
    assert.equal(e.label, predicted.label);
    assert.ok(Math.abs(e.prediction - predicted.probabilities[predicted.label]!) < 1e-4);
    assert.deepEqual(Object.keys(e.standardError!), digitFeatures);
    assert.ok(Object.values(e.standardError!).some((s) => s > 0));
    assert.ok(e.additivityError < 1e-6);
    assert.ok(Math.abs(e.baseValue + sum(e.attributions) - e.prediction) <= e.additivityError + 1e-9);
    assert.equal(e.complete, true);
  });

  it('answers 400 naming instances over explain.maxInstances, 404 for an unknown model, 409 for a version without a background sample', () => {
    const over = answers.get('over-limit')!;
    assert.equal(over.status, 400);
    assert.match(over.body.error!.message, /^instances has 17 instances, more than the limit of 16 an :explain request takes \(explain\.maxInstances/);
    const unknown = answers.get('unknown')!;
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error!.code, 'model_not_found');
    const none = answers.get('no-background')!;
    assert.equal(none.status, 409);
    assert.equal(none.body.error!.code, 'explanation_unavailable');
    assert.match(none.body.error!.message, /no-background v1 has no background sample .*`mlship train`, or `mlship import` with --data/);
  });

  it('keeps the deadline: a 10 ms explain.timeoutMs against a budget of ten million rows answers 200, complete=false, with standard errors', () => {
    const a = answers.get('hurried')!;
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.explanations!.length, 2);
    for (const e of a.body.explanations!) {
      assert.equal(e.complete, false);
      assert.equal(Object.keys(e.standardError!).length, 64);
      assert.ok(e.additivityError < 1e-6);
    }
  });
});
