// The batch state machine's explanation settings in the template: a model with batch.explainTopK passes it
// (and explain.maxEvaluations) to the plan function in BATCH_MODELS, and its scorer gets the longest
// timeout; a model without it keeps the short one; a SageMaker model with explainTopK fails synth naming
// models[i].batch.explainTopK (Batch Transform adds no explanations, so it is never dropped silently); the
// pipeline image, where the batch scorers run, carries a model's background.json when its card names it.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PipelineImage } from '../../../lib/pipelines/pipeline-image';
import { loadManifest } from '../../../lambdas/core/manifest/load';
import type { JsonObject } from '../../../local/pipelines/runner';
import { synthesizeStackTemplate } from '../../../local/pipelines/stack-template';
import { tempDirMaker } from '../../fixtures/temp-dirs';
import { explainedModels } from '../../local/batch/explained-models';

const tempDir = tempDirMaker('mlship-batch-explain-template-');

type Resources = Record<string, { Type: string; Properties: JsonObject }>;

function functionWith(resources: Resources, description: RegExp): JsonObject {
  const found = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function' && description.test(String(r.Properties.Description)));
  assert.equal(found.length, 1, `one function described ${description}`);
  return found[0]!.Properties;
}

const variables = (fn: JsonObject) => (fn.Environment as JsonObject).Variables as Record<string, string>;

describe('batch.explainTopK in the synthesized template', () => {
  it('reaches the plan function in BATCH_MODELS with the explain budget; the explaining scorer gets 15 minutes, the other keeps 5', () => {
    const loaded = loadManifest(explainedModels(tempDir(), { digitsRuntime: 'lambda', explainTopK: { 'breast-cancer': 3 } }));
    const resources = synthesizeStackTemplate(loaded).template.Resources as Resources;
    const plan = functionWith(resources, /batch scoring: checks the input/);
    const models = JSON.parse(variables(plan).BATCH_MODELS!) as Record<string, JsonObject>;
    assert.deepEqual(models['breast-cancer'], { runtime: 'lambda', rowsPerBatch: 5000, explainTopK: 3, explainMaxEvaluations: loaded.models[0]!.entry.explain.maxEvaluations });
    assert.equal(models.digits!.explainTopK, undefined, 'digits explains only when an execution input asks');
    assert.equal(models.digits!.explainMaxEvaluations, loaded.models[1]!.entry.explain.maxEvaluations);
    const breastCancer = functionWith(resources, /batch scoring of breast-cancer v1/);
    const digits = functionWith(resources, /batch scoring of digits v1/);
    assert.equal(breastCancer.Timeout, 900);
    assert.equal(digits.Timeout, 300);
    assert.equal(variables(breastCancer).MODEL_NAME, 'breast-cancer');
  });

  it('fails synth naming models[i].batch.explainTopK for a SageMaker model (the construct checks it too, not only the manifest loader)', () => {
    const loaded = loadManifest(explainedModels(tempDir()));
    assert.equal(loaded.models[1]!.entry.runtime, 'sagemaker');
    const forced = { ...loaded, models: loaded.models.map((m) => (m.entry.name === 'digits' ? { ...m, entry: { ...m.entry, batch: { ...m.entry.batch, explainTopK: 2 } } } : m)) };
    assert.throws(() => synthesizeStackTemplate(forced), /models\[1\]\.batch\.explainTopK is 2, but digits runs on SageMaker, whose batch scoring \(a Batch Transform job\) adds no explanations/);
    const negative = { ...loaded, models: loaded.models.map((m, i) => (i === 0 ? { ...m, entry: { ...m.entry, batch: { ...m.entry.batch, explainTopK: -1 } } } : m)) };
    assert.throws(() => synthesizeStackTemplate(negative), /models\[0\]\.batch\.explainTopK must be an integer between 0 and 10000, received -1/);
  });
});

describe('the pipeline image of the batch scorers', () => {
  it("carries background.json beside model.json when the card names it, and nothing more when it does not", () => {
    const root = join(tempDir(), 'models');
    explainedModels(join(root, '..'), { withoutBackground: ['digits'] });
    const image = new PipelineImage({ handlers: { 'step-one': join(import.meta.dirname, '..', '..', '..', 'lambdas', 'batch-summarise', 'index.ts') }, models: { 'breast-cancer': join(root, 'breast-cancer', '1'), digits: join(root, 'digits', '1') } });
    try {
      assert.deepEqual(readFileSync(join(image.dir, 'models', 'breast-cancer', 'background.json')), readFileSync(join(root, 'breast-cancer', '1', 'background.json')));
      assert.equal(existsSync(join(image.dir, 'models', 'digits', 'background.json')), false);
    } finally {
      rmSync(image.dir, { recursive: true, force: true });
    }
  });
});
