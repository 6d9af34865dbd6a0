// Every validation branch of the manifest schema (lambdas/core/manifest/schema.ts) and loader
// (lambdas/core/manifest/load.ts): each bad input fails with a message naming its manifest path or file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import onnxProto from 'onnx-proto';
import { stringify } from 'yaml';
import { loadManifest, ManifestError, resolveManifestPath } from '../../../../lambdas/core/manifest/load';
import { capturePercentOf } from '../../../../lambdas/core/manifest/schema';
import { createFixtureProject, writeModelFolder } from '../../../fixtures/model-folder';

const project = createFixtureProject();
after(() => project.cleanup());
const { root } = project;
let counter = 0;

const BASE_MODELS = [
  { name: 'breast-cancer', version: 1 },
  { name: 'digits', version: 1 },
];

/** Writes a manifest next to the fixture models and loads it. */
function load(doc: unknown, options: { ext?: string; raw?: string } = {}) {
  const file = join(root, `manifest-${++counter}.${options.ext ?? 'yaml'}`);
  writeFileSync(file, options.raw ?? (options.ext === 'json' ? JSON.stringify(doc) : stringify(doc)));
  return loadManifest(file);
}

/** Asserts that loading fails with a ManifestError whose problems are exactly `expected`. */
function assertProblems(fn: () => unknown, expected: readonly (string | RegExp)[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`);
    assert.equal(error.problems.length, expected.length, `problems: ${JSON.stringify(error.problems)}`);
    expected.forEach((e, i) => (typeof e === 'string' ? assert.equal(error.problems[i], e) : assert.match(error.problems[i]!, e)));
    assert.match(error.message, /^Invalid manifest .*:\n {2}- /);
    return true;
  });
}

const withModel = (patch: Record<string, unknown>, index = 1) => ({ models: BASE_MODELS.map((m, i) => (i === index ? { ...m, ...patch } : m)) });

describe('manifest schema', () => {
  it('applies every default to a minimal manifest', () => {
    const { manifest, models } = load({ models: BASE_MODELS });
    assert.equal(manifest.project, 'mlship');
    assert.equal(manifest.stage, 'dev');
    assert.deepEqual(manifest.api, { maxBodyBytes: 1048576, throttle: { rateLimit: 100, burstLimit: 200 }, auth: 'iam', apiKeys: [], waf: { enabled: true, rateLimitPer5Minutes: 2000 } });
    assert.deepEqual(manifest.models[0], {
      name: 'breast-cancer',
      version: 1,
      runtime: 'lambda',
      lambda: { memoryMb: 2048, timeoutSeconds: 10, architecture: 'arm64' },
      maxBatchSize: 1000,
      release: { strategy: 'canary', percent: 10, intervalMinutes: 5, alarms: { errorRatePercent: 1, p99LatencyMs: 1000, throttles: 0, minRequests: 10 } },
      batch: { rowsPerBatch: 5000, toleratedFailurePercent: 5, maxConcurrency: 100, transformInstanceCount: 1, explainTopK: 0 },
      explain: { maxInstances: 16, maxEvaluations: 65536 },
      monitoring: {
        alarms: { p99LatencyMs: 1000, errorRatePercent: 1, throttles: 10, minRequests: 20, gpuUtilizationPercent: 90, periodMinutes: 5, evaluationPeriods: 3 },
        // as written: the thresholds left out take their defaults in resolveDriftThresholds, which says so
        drift: {},
        quality: { windowHours: 24, minLabels: 100, alarms: {} },
      },
    });
    assert.deepEqual(manifest.notifications, { emails: [] });
    assert.deepEqual(manifest.monitoring, { schedule: 'rate(1 hour)', windowHours: 24, captureRetentionDays: 30, localStateMaxMb: 2048 });
    assert.equal(capturePercentOf(manifest.models[0]!), 10, 'a Lambda model captures 10% by default');
    assert.deepEqual(
      models.map((m) => [m.index, m.entry.name, relative(root, m.dir)]),
      [
        [0, 'breast-cancer', join('breast-cancer', '1')],
        [1, 'digits', join('digits', '1')],
      ],
    );
  });

  it('rejects a runtime other than lambda or sagemaker, naming the path', () => {
    assertProblems(() => load(withModel({ runtime: 'gpu' })), ["models[1].runtime must be one of lambda, sagemaker, received 'gpu'"]);
  });

  it('requires models', () => assertProblems(() => load({ project: 'mlship' }), ['models is required (array)']));
  it('requires at least one model', () => assertProblems(() => load({ models: [] }), ['models must have at least 1 entries, received an array of 0']));
  it('rejects unknown top-level fields', () => assertProblems(() => load({ models: BASE_MODELS, modles: [] }), ["(root) has unknown field 'modles'"]));
  it('rejects unknown model fields', () => assertProblems(() => load(withModel({ memory: 1 }, 0)), ["models[0] has unknown field 'memory'"]));
  it('rejects a bad project name', () =>
    assertProblems(() => load({ project: 'My_Project', models: BASE_MODELS }), ["project must be up to 21 lower-case letters, digits or dashes, starting with a letter, received 'My_Project'"]));
  it('rejects a bad stage', () =>
    assertProblems(() => load({ stage: 'prod-eu', models: BASE_MODELS }), ["stage must be up to 12 lower-case letters or digits, starting with a letter, received 'prod-eu'"]));
  it('rejects api.maxBodyBytes above the Lambda payload limit', () =>
    assertProblems(() => load({ api: { maxBodyBytes: 7_000_000 }, models: BASE_MODELS }), ['api.maxBodyBytes must be at most 6291456, received 7000000']));
  it('rejects api.maxBodyBytes below 1 KiB', () =>
    assertProblems(() => load({ api: { maxBodyBytes: 10 }, models: BASE_MODELS }), ['api.maxBodyBytes must be at least 1024, received 10']));
  it('reads api.auth apiKey with its keys, throttles and quotas, and api.waf', () => {
    const { manifest } = load({
      api: { auth: 'apiKey', apiKeys: [{ name: 'shop', throttle: { rateLimit: 5, burstLimit: 10 }, quota: { limit: 1000, period: 'DAY' } }, { name: 'batch-team' }], waf: { enabled: true } },
      models: BASE_MODELS,
    });
    assert.equal(manifest.api.auth, 'apiKey');
    assert.deepEqual(manifest.api.apiKeys, [{ name: 'shop', throttle: { rateLimit: 5, burstLimit: 10 }, quota: { limit: 1000, period: 'DAY' } }, { name: 'batch-team' }]);
    assert.deepEqual(manifest.api.waf, { enabled: true, rateLimitPer5Minutes: 2000 });
  });
  it('rejects api.auth apiKey without keys', () =>
    assertProblems(() => load({ api: { auth: 'apiKey' }, models: BASE_MODELS }), ['api.apiKeys must name at least one key when auth is apiKey, received none']));
  it('rejects api.apiKeys with auth iam', () =>
    assertProblems(() => load({ api: { apiKeys: [{ name: 'shop' }] }, models: BASE_MODELS }), ['api.apiKeys applies only to auth: apiKey; auth is iam, received 1 keys']));
  it('rejects an unknown api.auth', () => assertProblems(() => load({ api: { auth: 'cognito' }, models: BASE_MODELS }), ["api.auth must be one of iam, apiKey, received 'cognito'"]));
  it('rejects an api key quota of 0 and a bad quota period, with their paths', () =>
    assertProblems(
      () => load({ api: { auth: 'apiKey', apiKeys: [{ name: 'shop', quota: { limit: 0, period: 'DAY' } }, { name: 'app', quota: { limit: 5, period: 'YEAR' } }] }, models: BASE_MODELS }),
      ['api.apiKeys[0].quota.limit must be at least 1, received 0', "api.apiKeys[1].quota.period must be one of DAY, WEEK, MONTH, received 'YEAR'"],
    ));
  it('rejects an api key named twice', () =>
    assertProblems(() => load({ api: { auth: 'apiKey', apiKeys: [{ name: 'shop' }, { name: 'shop' }] }, models: BASE_MODELS }), ["api.apiKeys[1].name must be unique, 'shop' is also apiKeys[0].name"]));
  it('rejects an api key name with a space', () =>
    assertProblems(() => load({ api: { auth: 'apiKey', apiKeys: [{ name: 'my key' }] }, models: BASE_MODELS }), [/^api\.apiKeys\[0\]\.name must be 1-64 letters, digits, dashes or underscores, received 'my key'/]));
  it('rejects an api.waf.rateLimitPer5Minutes below WAF\'s minimum of 10', () =>
    assertProblems(() => load({ api: { waf: { enabled: true, rateLimitPer5Minutes: 5 } }, models: BASE_MODELS }), ['api.waf.rateLimitPer5Minutes must be at least 10, received 5']));
  it('rejects an api.throttle.rateLimit below 1', () =>
    assertProblems(() => load({ api: { throttle: { rateLimit: 0, burstLimit: 5 } }, models: BASE_MODELS }), ['api.throttle.rateLimit must be at least 1, received 0']));
  it('rejects an api.throttle.rateLimit above 10000', () =>
    assertProblems(() => load({ api: { throttle: { rateLimit: 20_000, burstLimit: 5 } }, models: BASE_MODELS }), ['api.throttle.rateLimit must be at most 10000, received 20000']));
  it('rejects a fractional burstLimit', () =>
    assertProblems(() => load(withModel({ throttle: { rateLimit: 10, burstLimit: 2.5 } })), ['models[1].throttle.burstLimit must be an int, received 2.5']));
  it('rejects a burstLimit above 5000', () =>
    assertProblems(() => load(withModel({ throttle: { rateLimit: 10, burstLimit: 9000 } })), ['models[1].throttle.burstLimit must be at most 5000, received 9000']));
  it('requires both throttle fields', () => assertProblems(() => load(withModel({ throttle: { rateLimit: 10 } })), ['models[1].throttle.burstLimit is required (number)']));
  it('rejects a bad model name', () =>
    assertProblems(() => load(withModel({ name: 'Digits_v2' })), ["models[1].name must be 2-48 lower-case letters, digits or dashes, starting with a letter, received 'Digits_v2'"]));
  it('requires a version', () => assertProblems(() => load({ models: [{ name: 'digits' }] }), ['models[0].version is required (number)']));
  it('rejects a version that is not a number', () => assertProblems(() => load(withModel({ version: 'v1' })), ["models[1].version must be a number, received 'v1'"]));
  it('rejects version 0', () => assertProblems(() => load(withModel({ version: 0 })), ['models[1].version must be at least 1, received 0']));
  it('rejects lambda.memoryMb below 512', () => assertProblems(() => load(withModel({ lambda: { memoryMb: 256 } })), ['models[1].lambda.memoryMb must be at least 512, received 256']));
  it('rejects lambda.memoryMb above 10240', () => assertProblems(() => load(withModel({ lambda: { memoryMb: 20_000 } })), ['models[1].lambda.memoryMb must be at most 10240, received 20000']));
  it('rejects lambda.timeoutSeconds above the API Gateway limit', () =>
    assertProblems(() => load(withModel({ lambda: { timeoutSeconds: 60 } })), ['models[1].lambda.timeoutSeconds must be at most 29, received 60']));
  it('rejects an unknown lambda.architecture', () =>
    assertProblems(() => load(withModel({ lambda: { architecture: 'arm' } })), ["models[1].lambda.architecture must be one of arm64, x86_64, received 'arm'"]));
  it('rejects lambda.reservedConcurrency 0', () =>
    assertProblems(() => load(withModel({ lambda: { reservedConcurrency: 0 } })), ['models[1].lambda.reservedConcurrency must be at least 1, received 0']));
  it('rejects maxBatchSize 0', () => assertProblems(() => load(withModel({ maxBatchSize: 0 })), ['models[1].maxBatchSize must be at least 1, received 0']));
  it('rejects duplicate model names, naming both entries', () =>
    assertProblems(() => load({ models: [...BASE_MODELS, { name: 'digits', version: 1 }] }), ["models[2].name must be unique, 'digits' is also models[1].name"]));
  it('rejects a retrain schedule that is not an EventBridge expression, and a notification address that is not one', () => {
    assertProblems(
      () => load({ notifications: { emails: ['oncall@example.com', 'oncall'] }, ...withModel({ retrain: { schedule: 'weekly' } }, 0) }),
      [
        "notifications.emails[1] must be a valid email, received 'oncall'",
        /^models\[0\]\.retrain\.schedule must be an EventBridge schedule expression such as 'rate\(7 days\)'/,
      ],
    );
  });

  it('accepts rate and cron schedules and fills the retrain defaults', () => {
    const { manifest } = load(withModel({ retrain: { schedule: 'cron(0 3 ? * MON *)' } }, 0));
    assert.deepEqual(manifest.models[0]!.retrain, { schedule: 'cron(0 3 ? * MON *)', onDrift: true, onQualityAlarm: true, metric: 'accuracy', tolerance: 0.01, minRows: 100 });
    assert.equal(load(withModel({ retrain: { schedule: 'rate(7 days)' } }, 0)).manifest.models[0]!.retrain!.schedule, 'rate(7 days)');
  });

  it('takes a SageMaker model\'s capture share from its endpoint, and refuses a second one under monitoring', () => {
    const sagemaker = load(withModel({ runtime: 'sagemaker', sagemaker: { dataCapturePercent: 25 } })).manifest.models[1]!;
    assert.equal(capturePercentOf(sagemaker), 25);
    assertProblems(
      () => load(withModel({ runtime: 'sagemaker', monitoring: { capturePercent: 5 } })),
      ['models[1].monitoring.capturePercent applies only to runtime: lambda; a SageMaker endpoint captures at sagemaker.dataCapturePercent'],
    );
    assert.equal(capturePercentOf(load(withModel({ monitoring: { capturePercent: 2.5 } }, 0)).manifest.models[0]!), 2.5);
  });

  it('rejects drift and alarm thresholds that cannot work, and a monitor schedule that is not one', () =>
    assertProblems(
      () =>
        load({
          monitoring: { schedule: 'hourly' },
          ...withModel({ monitoring: { capturePercent: 101, alarms: { periodMinutes: 7 }, drift: { psiModerate: 0.3, psiSignificant: 0.2 } } }, 0),
        }),
      [
        /^monitoring\.schedule must be an EventBridge schedule expression such as 'rate\(1 hour\)'/,
        'models[0].monitoring.capturePercent must be at most 100, received 101',
        /^models\[0\]\.monitoring\.alarms\.periodMinutes /,
        'models[0].monitoring.drift.psiSignificant must be at least psiModerate (0.3), received 0.2',
      ],
    ));

  it('checks a drift threshold set alone against the default of the other', () =>
    assertProblems(
      () => load({ models: [{ ...BASE_MODELS[0]!, monitoring: { drift: { psiModerate: 0.3 } } }, { ...BASE_MODELS[1]!, monitoring: { drift: { psiSignificant: 0.05 } } }] }),
      ['models[0].monitoring.drift.psiModerate must be at most psiSignificant (0.25, its default), received 0.3', 'models[1].monitoring.drift.psiSignificant must be at least psiModerate (0.1, its default), received 0.05'],
    ));

  it('reports every schema problem at once', () =>
    assertProblems(() => load({ stage: 'Prod', models: [{ name: 'digits', version: 1, runtime: 'gpu', maxBatchSize: 0 }] }), [
      "stage must be up to 12 lower-case letters or digits, starting with a letter, received 'Prod'",
      "models[0].runtime must be one of lambda, sagemaker, received 'gpu'",
      'models[0].maxBatchSize must be at least 1, received 0',
    ]));
});

describe('manifest files', () => {
  it('resolves an explicit path against the working folder', () => {
    assert.equal(resolveManifestPath('models/x.yaml', '/srv/app'), '/srv/app/models/x.yaml');
  });

  it('finds models/manifest.yml or .json when no path is given', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'mlship-cwd-'));
    try {
      mkdirSync(join(cwd, 'models'));
      assert.throws(() => resolveManifestPath(undefined, cwd), (error: unknown) => {
        assert.ok(error instanceof ManifestError);
        assert.deepEqual(error.problems, ['file not found (also looked for models/manifest.yml and models/manifest.json)']);
        assert.equal(error.file, join(cwd, 'models/manifest.yaml'));
        return true;
      });
      writeFileSync(join(cwd, 'models/manifest.json'), '{}');
      assert.equal(resolveManifestPath(undefined, cwd), join(cwd, 'models/manifest.json'));
      writeFileSync(join(cwd, 'models/manifest.yml'), '');
      assert.equal(resolveManifestPath(undefined, cwd), join(cwd, 'models/manifest.yml'));
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('reports a missing manifest file', () => assertProblems(() => loadManifest(join(root, 'nope.yaml')), ['file not found']));
  it('reads a JSON manifest', () => assert.equal(load({ models: BASE_MODELS }, { ext: 'json' }).models.length, 2));
  it('reports invalid JSON', () => assertProblems(() => load(null, { ext: 'json', raw: '{"models": [' }), [/^not valid JSON: /]));
  it('reports invalid YAML with its position', () => assertProblems(() => load(null, { raw: 'models:\n  - name: digits\n   version: 1\n' }), [/^not valid YAML: .*line 3/s]));
  it('rejects a document that is not an object', () => assertProblems(() => load(null, { raw: '- digits\n' }), ['(root) must be an object, received an array of 1']));
});

describe('quality thresholds against the model', () => {
  it("names a threshold the model's task has no figure for, by its manifest path (accuracy of a regressor, MAE of a classifier)", () =>
    assertProblems(
      () => load(withModel({ monitoring: { quality: { alarms: { accuracyBelow: 0.8, maeAbove: 2, r2Below: 0.5 } } } })),
      [/^models\[1\]\.monitoring\.quality\.alarms\.maeAbove: digits is a (binary|multiclass) model, which has no such figure; its thresholds are accuracyBelow, macroF1Below, rocAucBelow, dropFromBaselineAbove$/, /^models\[1\]\.monitoring\.quality\.alarms\.r2Below: digits is a/],
    ));
  it('takes the thresholds that fit', () => assert.equal(load(withModel({ monitoring: { quality: { alarms: { accuracyBelow: 0.8, dropFromBaselineAbove: 0.05 } } } })).models.length, 2));
});

describe('model folders', () => {
  /** Loads a one-model manifest for a model folder written with `options`, then `mutate`d. */
  function loadModel(options: Parameters<typeof writeModelFolder>[1], mutate?: (dir: string) => void) {
    const dir = writeModelFolder(root, options);
    mutate?.(dir);
    return () => load({ models: [{ name: options.name, version: options.version ?? 1 }] });
  }
  const rel = (name: string, file: string) => `${relative(process.cwd(), root)}/${name}/1/${file}`;

  it('reports a missing model folder', () =>
    assertProblems(() => load({ models: [{ name: 'ghost', version: 3 }] }), [`models[0] (ghost v3): model folder ${relative(process.cwd(), root)}/ghost/3 not found`]));

  it('names each missing model file', () =>
    assertProblems(
      loadModel({ name: 'no-files' }, (dir) => {
        unlinkSync(join(dir, 'model.onnx'));
        unlinkSync(join(dir, 'model.json'));
      }),
      [`models[0] (no-files v1): ${rel('no-files', 'model.json')} not found`, `models[0] (no-files v1): ${rel('no-files', 'model.onnx')} not found`],
    ));

  it('names a model file that is a folder, not a file', () =>
    assertProblems(
      loadModel({ name: 'folders' }, (dir) => {
        unlinkSync(join(dir, 'model.onnx'));
        mkdirSync(join(dir, 'model.onnx'));
      }),
      [`models[0] (folders v1): ${rel('folders', 'model.onnx')} is not a file`],
    ));

  it('reports a model.json that is not JSON', () =>
    assertProblems(
      loadModel({ name: 'bad-json' }, (dir) => writeFileSync(join(dir, 'model.json'), '{ nope')),
      [new RegExp(`^models\\[0\\] \\(bad-json v1\\): ${rel('bad-json', 'model.json')} is not valid JSON: `)],
    ));

  it('reports model.json schema problems with their paths', () =>
    assertProblems(loadModel({ name: 'one-label', card: (c) => ({ ...c, labels: ['only'] }) }), [`models[0] (one-label v1): ${rel('one-label', 'model.json')}: labels needs at least 2 class labels`]));

  it('reports a model.json that describes another model or version', () =>
    assertProblems(loadModel({ name: 'renamed', card: (c) => ({ ...c, name: 'other', version: 2 }) }), [
      `models[0] (renamed v1): ${rel('renamed', 'model.json')} describes other v2, the manifest names renamed v1`,
    ]));

  it('reports a model.onnx changed after model.json was written', () =>
    assertProblems(loadModel({ name: 'changed', card: (c) => ({ ...c, onnx: { ...c.onnx, sha256: '0'.repeat(64) } }) }), [
      `models[0] (changed v1): ${rel('changed', 'model.onnx')} does not match onnx.sha256 in model.json (the file changed after the card was written)`,
    ]));

  it('reports a model.onnx that is not ONNX', () => {
    const garbage = Buffer.from('definitely not protobuf \u0000\u00ff\u00ff\u00ff');
    assertProblems(
      loadModel({ name: 'garbage', card: (c) => ({ ...c, onnx: { ...c.onnx, sha256: createHash('sha256').update(garbage).digest('hex') } }) }, (dir) => writeFileSync(join(dir, 'model.onnx'), garbage)),
      [new RegExp(`^models\\[0\\] \\(garbage v1\\): ${rel('garbage', 'model.onnx')}: not a valid ONNX model: `)],
    );
  });

  it('reports an ONNX graph without nodes', () => {
    const empty = onnxProto.onnx.ModelProto.encode({ irVersion: 8, graph: { name: 'empty' } }).finish();
    assertProblems(
      loadModel({ name: 'empty-graph', card: (c) => ({ ...c, onnx: { ...c.onnx, sha256: createHash('sha256').update(empty).digest('hex') } }) }, (dir) => writeFileSync(join(dir, 'model.onnx'), empty)),
      [`models[0] (empty-graph v1): ${rel('empty-graph', 'model.onnx')}: not a valid ONNX model: it has no graph nodes`],
    );
  });

  it('reports an ONNX input width that disagrees with the features in model.json', () =>
    assertProblems(loadModel({ name: 'too-wide', features: ['a', 'b', 'c', 'd'], onnxWidth: 5 }), [
      `models[0] (too-wide v1): ${rel('too-wide', 'model.onnx')}: the ONNX input 'input' takes 5 values per instance (dims ["batch",5]), model.json lists 4 features`,
    ]));

  it('reports an input tensor name the graph does not have', () =>
    assertProblems(loadModel({ name: 'renamed-input', inputName: 'x', card: (c) => ({ ...c, input: { ...c.input, tensorName: 'features' } }) }), [
      `models[0] (renamed-input v1): ${rel('renamed-input', 'model.onnx')}: input.tensorName is 'features' but the ONNX graph's inputs are 'x'`,
    ]));

  it('reports an input element type other than float', () =>
    assertProblems(loadModel({ name: 'int-input', graph: { inputElemType: onnxProto.onnx.TensorProto.DataType.INT64 } }), [
      `models[0] (int-input v1): ${rel('int-input', 'model.onnx')}: the ONNX input 'input' has element type int64, model.json says float32`,
    ]));

  it('reports a graph with more than one input', () =>
    assertProblems(loadModel({ name: 'two-inputs', graph: { extraInput: 'mask' } }), [
      `models[0] (two-inputs v1): ${rel('two-inputs', 'model.onnx')}: the ONNX graph has 2 inputs (input, mask); mlship serves models with exactly one input tensor`,
    ]));

  it('reports output tensors the graph does not have', () =>
    assertProblems(loadModel({ name: 'no-scores', card: (c) => ({ ...c, output: { ...c.output, scoresTensor: 'scores', labelTensor: 'label' } }) }), [
      `models[0] (no-scores v1): ${rel('no-scores', 'model.onnx')}: output.scoresTensor is 'scores' but the ONNX graph's outputs are 'probabilities'`,
      `models[0] (no-scores v1): ${rel('no-scores', 'model.onnx')}: output.labelTensor is 'label' but the ONNX graph's outputs are 'probabilities'`,
    ]));

  it('reports the problems of every model at once', () => {
    writeModelFolder(root, { name: 'wide-too', features: ['a', 'b'], onnxWidth: 3 });
    assertProblems(() => load({ models: [{ name: 'ghost', version: 1 }, { name: 'digits', version: 1 }, { name: 'wide-too', version: 1 }] }), [
      /^models\[0\] \(ghost v1\): model folder .* not found$/,
      /^models\[2\] \(wide-too v1\): .*takes 3 values per instance/,
    ]);
  });
});
