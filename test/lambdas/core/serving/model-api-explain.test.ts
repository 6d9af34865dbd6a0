// ModelApi's :explain with the real breast-cancer session: the answer's shape, what is (not) recorded, and its 4xx.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCsvFile, toNumericTable } from '../../../../lambdas/core/common/csv';
import { sampleBackground } from '../../../../lambdas/core/explain/background';
import { Explainer } from '../../../../lambdas/core/explain/explainer';
import { ServedModel } from '../../../../lambdas/core/models/inference-session';
import { ModelApi, type ApiRequest, type ExplainOptions } from '../../../../lambdas/core/serving/model-api';

const dir = join(import.meta.dirname, '..', '..', '..', '..', 'models', 'breast-cancer', '1');
const limits = { maxBodyBytes: 1024 * 1024, maxBatchSize: 1000 };
const explainRequest = (body: unknown, extra: Partial<ApiRequest> = {}): ApiRequest => ({ method: 'POST', path: '/v1/models/breast-cancer:explain', contentType: 'application/json', body: JSON.stringify(body), ...extra });

describe('ModelApi :explain (breast-cancer, a real session)', () => {
  let model: ServedModel;
  let explain: ExplainOptions;
  let rows: number[][];

  before(async () => {
    model = await ServedModel.load(dir);
    const table = toNumericTable(readCsvFile(join(dir, '..', 'data', 'breast_cancer.csv')), 'diagnosis');
    const background = sampleBackground(Float32Array.from(table.x.data), table.x.rows, 30, 3, 50);
    const explainer = Explainer.create({ card: model.card, background, predict: (r, c) => model.predict(r, c), onnx: readFileSync(join(dir, 'model.onnx')) });
    explain = { explainer, maxInstances: 4, timeoutMs: 1000, maxEvaluations: 1000 };
    rows = model.card.golden.slice(0, 3).map((g) => g.input);
  });
  after(() => model.release());

  it("answers :predict's predictions and one explanation per instance, with the version and an inference id; not recorded as scored", async () => {
    const api = new ModelApi(model, limits, explain);
    const { response, record } = await api.handle(explainRequest({ instances: rows }, { inferenceId: 'why-1' }));
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.headers['x-model-version'], '1');
    assert.equal(response.headers['x-inference-id'], 'why-1');
    const body = JSON.parse(response.body) as { predictions: unknown[]; explanations: Array<{ method: string; label: string; attributions: Record<string, number> }> };
    const predicted = JSON.parse((await api.handle({ ...explainRequest({ instances: rows }), path: '/v1/models/breast-cancer:predict' })).response.body) as { predictions: Array<{ label: string }> };
    assert.deepEqual(body.predictions, predicted.predictions);
    assert.equal(body.explanations.length, 3);
    body.explanations.forEach((e, i) => {
      assert.equal(e.label, predicted.predictions[i]!.label);
      assert.deepEqual(Object.keys(e.attributions), model.card.input.features);
    });
    assert.equal(record.operation, 'explain');
    assert.equal(record.instances, 3);
    assert.equal(record.scored, undefined, 'explanations are not recorded as predictions');
    assert.equal(record.inferenceId, 'why-1');
  });

  it('answers 400 naming instances past explain.maxInstances, and for a bad instance; 405 for GET', async () => {
    const api = new ModelApi(model, limits, explain);
    const over = await api.handle(explainRequest({ instances: [rows[0], rows[0], rows[0], rows[0], rows[0]] }));
    assert.equal(over.response.statusCode, 400);
    assert.equal(JSON.parse(over.response.body).error.message, 'instances has 5 instances, more than the limit of 4 an :explain request takes (explain.maxInstances in the manifest); split the batch');
    assert.ok(over.response.headers['x-inference-id'], 'an error answer names its id too');
    const bad = await api.handle(explainRequest({ instances: [[1, 2]] }));
    assert.equal(bad.response.statusCode, 400);
    assert.match(JSON.parse(bad.response.body).error.message, /instances\[0\]/);
    const get = await api.handle({ method: 'GET', path: '/v1/models/breast-cancer:explain', contentType: undefined, body: undefined });
    assert.equal(get.response.statusCode, 405);
    assert.equal(get.response.headers.allow, 'POST');
  });

  it('answers 409 explanation_unavailable without an explainer, saying how to get one; a request with bad input still gets its 400 first', async () => {
    const api = new ModelApi(model, limits);
    const { response, record } = await api.handle(explainRequest({ instances: rows }));
    assert.equal(response.statusCode, 409);
    const { error } = JSON.parse(response.body) as { error: { code: string; message: string } };
    assert.equal(error.code, 'explanation_unavailable');
    assert.equal(error.message, 'breast-cancer v1 has no background sample for explanations (model.json names no explanation.background); write a version with one: `mlship train`, or `mlship import` with --data');
    assert.equal(record.errorCode, 'explanation_unavailable');
    const bad = await new ModelApi(model, limits).handle(explainRequest({ instances: 'no' }));
    assert.equal(bad.response.statusCode, 400);
    const reason = await new ModelApi(model, limits, { ...explain, explainer: undefined, unavailable: 'background.json has sha256 x, model.json says y' }).handle(explainRequest({ instances: rows }));
    assert.equal(reason.response.statusCode, 409);
    assert.match(reason.response.body, /model.json says y/);
  });
});
