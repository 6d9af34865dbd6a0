// Registering a candidate (issue 19): background.json goes to the registry with the other files, before
// model.json, and only when it is the file the candidate's card names; the notification lists it. The
// candidate here is the shipped breast-cancer v1's files (a card with an explanation and its background.json)
// in an execution's work folder, over folder buckets.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readBackground } from '../../../../lambdas/core/explain/background';
import { loadModelFolder } from '../../../../lambdas/core/manifest/load';
import type { ModelCard } from '../../../../lambdas/core/models/model-card';
import { candidateSchema, registerEventSchema, workKeys, type RegisterEvent } from '../../../../lambdas/core/retrain/contract';
import { liveExplainSettings } from '../../../../lambdas/core/retrain/live-model';
import { registerCandidate } from '../../../../lambdas/core/retrain/register';
import type { ObjectStore } from '../../../../lambdas/core/storage/object-store';
import { FolderObjectStore } from '../../../../local/storage/folder-object-store';
import { tempDirMaker } from '../../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-retrain-register-');
const SHIPPED = join(import.meta.dirname, '..', '..', '..', '..', 'models', 'breast-cancer', '1');
const EXECUTION = 'exec-1';

/** Writes through to a folder store, recording each registry key as it is written and what the registry held then. */
class RecordingStore implements ObjectStore {
  readonly writes: { key: string; registryHad: string[] }[] = [];
  constructor(
    private readonly inner: FolderObjectStore,
    private readonly registryDir: string,
  ) {}
  list(bucket: string, prefix: string) {
    return this.inner.list(bucket, prefix);
  }
  read(bucket: string, key: string) {
    return this.inner.read(bucket, key);
  }
  readStream(bucket: string, key: string) {
    return this.inner.readStream(bucket, key);
  }
  async write(bucket: string, key: string, body: string | Uint8Array): Promise<void> {
    const folder = join(this.registryDir, 'breast-cancer', '2');
    if (bucket === 'registry') this.writes.push({ key, registryHad: existsSync(folder) ? readdirSync(folder).sort() : [] });
    await this.inner.write(bucket, key, body);
  }
  writeStream(bucket: string, key: string, body: AsyncIterable<Uint8Array>) {
    return this.inner.writeStream(bucket, key, body);
  }
  delete(bucket: string, key: string) {
    return this.inner.delete(bucket, key);
  }
}

/** A work folder holding the candidate (card edited by `card`), and an empty registry. */
function setUp(options: { card?: (card: Record<string, unknown>) => Record<string, unknown>; background?: string | null; backgroundKey?: string | null } = {}) {
  const dataDir = tempDir();
  const registryDir = tempDir();
  const keys = workKeys(EXECUTION);
  const put = (key: string, body: string | Uint8Array) => {
    mkdirSync(join(dataDir, key, '..'), { recursive: true });
    writeFileSync(join(dataDir, key), body);
  };
  const card = JSON.parse(readFileSync(join(SHIPPED, 'model.json'), 'utf8')) as Record<string, unknown>;
  put(keys.onnx, readFileSync(join(SHIPPED, 'model.onnx')));
  put(keys.card, `${JSON.stringify(options.card ? options.card(card) : card, null, 2)}\n`);
  if (options.background !== null) put(keys.background, options.background ?? readFileSync(join(SHIPPED, 'background.json'), 'utf8'));
  put(keys.evaluation, '{"metric":"accuracy"}\n');
  const store = new RecordingStore(new FolderObjectStore({ data: dataDir, registry: registryDir }), registryDir);
  const event: RegisterEvent = registerEventSchema.parse({
    settings: {
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
    },
    execution: EXECUTION,
    data: {
      source: 's3://data/training-data/breast-cancer/',
      prefix: 'training-data/breast-cancer/',
      files: [{ key: 'training-data/breast-cancer/base.csv', rows: 569, accepted: 569, rejected: 0 }],
      skipped: [],
      rowsRead: 569,
      rowsAccepted: 569,
      rowsRejected: 0,
      classCounts: { malignant: 212, benign: 357 },
      dataKey: keys.data,
      sha256: 'x',
      rejectsKey: null,
      firstRejects: [],
    },
    candidate: {
      version: 2,
      onnxKey: keys.onnx,
      cardKey: keys.card,
      ...(options.backgroundKey === undefined ? { backgroundKey: keys.background } : options.backgroundKey === null ? {} : { backgroundKey: options.backgroundKey }),
      family: 'logreg',
      trainSize: 455,
      testSize: 114,
      trainingMs: 1,
      notes: [],
    },
    evaluation: {
      metric: 'accuracy',
      candidateScore: 0.98,
      liveScore: 0.97,
      tolerance: 0.01,
      threshold: 0.96,
      heldOutRows: 114,
      candidateVersion: 2,
      liveVersion: 1,
      candidate: { accuracy: 0.98, macroF1: 0.98 },
      live: { accuracy: 0.97, macroF1: 0.97 },
      evaluationKey: keys.evaluation,
      rejectedMessage: '',
    },
  });
  const parameters: string[] = [];
  const deps = { store, parameters: { put: async (_name: string, value: string) => void parameters.push(value) }, now: new Date('2026-12-08T00:00:00Z') };
  return { dataDir, registryDir, store, event, deps, parameters, folder: join(registryDir, 'breast-cancer', '2') };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('registering a retrained candidate', () => {
  it('copies background.json to the registry before model.json, so no reader finds a card without its background', async () => {
    const { store, event, deps, folder } = setUp();
    const registered = await registerCandidate(event, deps);
    assert.deepEqual(
      store.writes.map((w) => w.key),
      ['breast-cancer/2/model.onnx', 'breast-cancer/2/evaluation.json', 'breast-cancer/2/background.json', 'breast-cancer/2/model.json'],
    );
    assert.deepEqual(store.writes.at(-1)!.registryHad, ['background.json', 'evaluation.json', 'model.onnx'], 'model.json is written last');
    assert.deepEqual(readdirSync(folder).sort(), ['background.json', 'evaluation.json', 'model.json', 'model.onnx']);

    const card = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8')) as ModelCard;
    assert.equal(sha256(readFileSync(join(folder, 'background.json'))), card.explanation!.background.sha256, "the registered background.json is the one the card names");
    const background = readBackground(folder, card)!;
    assert.equal(background.length, card.explanation!.background.rows * card.input.features.length);
    assert.deepEqual(Array.from(background), Array.from(readBackground(SHIPPED, card)!), 'the same rows, byte for byte');
    assert.match(registered.message, /^Files: s3:\/\/registry\/breast-cancer\/2\/ \(model\.onnx, model\.json, background\.json, evaluation\.json\)\.$/m);
  });

  it('the registered folder loads as the manifest loader checks it', async () => {
    const { event, deps, folder } = setUp();
    await registerCandidate(event, deps);
    // The shipped card says version 1; the loader checks the files, not the folder's name.
    const loaded = loadModelFolder(folder, 'registry', { name: 'breast-cancer', version: 1 });
    assert.deepEqual(loaded.problems, []);
  });

  it('refuses a candidate whose background.json is not the one its card names, and registers nothing', async () => {
    const { event, deps, folder, parameters } = setUp({ background: '{"features": [], "rows": []}\n' });
    await assert.rejects(registerCandidate(event, deps), (e: unknown) => e instanceof Error && /background\.json has sha256 [0-9a-f]{64}, the candidate's card says [0-9a-f]{64}; not registered/.test(e.message));
    assert.equal(existsSync(folder), false, 'nothing written to the registry');
    assert.deepEqual(parameters, [], 'the parameter is left alone');
  });

  it('refuses a card naming a background the Train step recorded no key for', async () => {
    const { event, deps, folder } = setUp({ backgroundKey: null });
    assert.equal(event.candidate.backgroundKey, null, 'an older candidate event reads as none');
    await assert.rejects(registerCandidate(event, deps), /names a background\.json, but the Train step recorded none \(candidate\.backgroundKey\)/);
    assert.equal(existsSync(folder), false);
  });

  it('registers a candidate whose card names no background (written before explanations) without one', async () => {
    const { store, event, deps, folder } = setUp({ card: ({ explanation: _, ...card }) => card, background: null, backgroundKey: null });
    const registered = await registerCandidate(event, deps);
    assert.deepEqual(store.writes.map((w) => w.key), ['breast-cancer/2/model.onnx', 'breast-cancer/2/evaluation.json', 'breast-cancer/2/model.json']);
    assert.deepEqual(readdirSync(folder).sort(), ['evaluation.json', 'model.json', 'model.onnx']);
    assert.match(registered.message, /^Files: s3:\/\/registry\/breast-cancer\/2\/ \(model\.onnx, model\.json, evaluation\.json\)\.$/m);
  });
});

describe('the candidate explanation settings', () => {
  it("carries the live card's importance metric and repeats; a card without importance gets mlship train's defaults", () => {
    const card = JSON.parse(readFileSync(join(SHIPPED, 'model.json'), 'utf8')) as ModelCard;
    const importance = card.explanation!.importance!;
    assert.deepEqual(liveExplainSettings(card), { metric: importance.metric, repeats: importance.repeats });
    assert.deepEqual(liveExplainSettings({ ...card, explanation: { ...card.explanation!, importance: { ...importance, metric: 'accuracy', repeats: 3 } } }), { metric: 'accuracy', repeats: 3 });
    assert.deepEqual(liveExplainSettings({ ...card, explanation: undefined }), {});
  });

  it('the candidate event keeps backgroundKey between the steps', () => {
    const keys = workKeys(EXECUTION);
    assert.equal(keys.background, `_work/retrain/${EXECUTION}/candidate/background.json`, 'beside the candidate model.json, under the work prefix the functions may use');
    const parsed = candidateSchema.parse({ version: 2, onnxKey: keys.onnx, cardKey: keys.card, backgroundKey: keys.background, family: 'logreg', trainSize: 1, testSize: 1, trainingMs: 1, notes: [] });
    assert.equal(parsed.backgroundKey, keys.background);
  });
});
