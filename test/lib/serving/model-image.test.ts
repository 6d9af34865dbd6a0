// The staged Docker build context of a model image: what goes in (and what stays out), that its hash
// is deterministic, and that the staged handler bundle really serves the model with the staged runtime.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileSystem, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { BASE_IMAGE, DEFAULT_HANDLER_ENTRY, modelImageCode, stageModelImageContext } from '../../../lib/serving/model-image';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject, writeModelFolder } from '../../fixtures/model-folder';

const project = createFixtureProject();
after(() => project.cleanup());
const modelDir = join(project.root, 'breast-cancer', '1');

function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('stageModelImageContext', () => {
  const staged = stageModelImageContext({ modelDir });
  const files = filesUnder(staged.dir);

  it('writes a Dockerfile on the Lambda Node.js 22 base image, with the model in /opt/ml/model', () => {
    const dockerfile = readFileSync(join(staged.dir, 'Dockerfile'), 'utf8');
    assert.equal(BASE_IMAGE, 'public.ecr.aws/lambda/nodejs:22');
    assert.match(dockerfile, /^FROM public\.ecr\.aws\/lambda\/nodejs:22$/m);
    assert.match(dockerfile, /^COPY model\/ \/opt\/ml\/model\/$/m);
    assert.match(dockerfile, /^COPY node_modules\/ \$\{LAMBDA_TASK_ROOT\}\/node_modules\/$/m);
    assert.match(dockerfile, /^CMD \["index\.handler"\]$/m);
  });

  it('copies the model files and nothing else from the model folder', () => {
    assert.deepEqual(
      files.filter((f) => f.startsWith('model/')),
      ['model/model.json', 'model/model.onnx'],
    );
    assert.deepEqual(readFileSync(join(staged.dir, 'model/model.onnx')), readFileSync(join(modelDir, 'model.onnx')));
  });

  it('ships onnxruntime-node with only the linux arm64 binary, and onnxruntime-common', () => {
    const binaries = files.filter((f) => f.includes('/bin/'));
    assert.deepEqual(binaries, ['node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1', 'node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node']);
    for (const f of ['node_modules/onnxruntime-node/package.json', 'node_modules/onnxruntime-node/dist/index.js', 'node_modules/onnxruntime-common/package.json', 'node_modules/onnxruntime-common/dist/cjs/index.js']) {
      assert.ok(files.includes(f), `${f} is staged`);
    }
    const stagedPackage = JSON.parse(readFileSync(join(staged.dir, 'node_modules/onnxruntime-node/package.json'), 'utf8')) as { version: string };
    const installed = JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')) as { version: string };
    assert.equal(stagedPackage.version, installed.version);
    assert.ok(!files.some((f) => f.startsWith('node_modules/') && (f.endsWith('.ts') || f.endsWith('.map'))), 'no TypeScript sources or maps from node_modules');
  });

  it('stays small: about the size of the arm64 runtime', () => {
    assert.ok(staged.bytes > 20e6 && staged.bytes < 35e6, `staged ${staged.bytes} bytes`);
  });

  it('bundles the handler as CommonJS with onnxruntime-node external and a relative source map', () => {
    const js = readFileSync(join(staged.dir, 'index.js'), 'utf8');
    assert.match(js, /require\("onnxruntime-node"\)/);
    assert.match(js, /\/\/# sourceMappingURL=index\.js\.map\s*$/);
    const map = JSON.parse(readFileSync(join(staged.dir, 'index.js.map'), 'utf8')) as { sources: string[] };
    assert.ok(map.sources.includes('../lambdas/inference/index.ts'), 'the map names the entry relative to the repository');
    assert.ok(!map.sources.some((s) => s.startsWith('/')), 'no absolute paths: the bundle hashes the same in any checkout');
    assert.deepEqual(JSON.parse(readFileSync(join(staged.dir, 'package.json'), 'utf8')), { private: true, type: 'commonjs' });
  });

  it('ships only the linux x64 binary for x86_64', () => {
    const x64 = stageModelImageContext({ modelDir, architecture: lambda.Architecture.X86_64 });
    assert.equal(x64.platform.platform, 'linux/amd64');
    assert.deepEqual(
      filesUnder(x64.dir).filter((f) => f.includes('/bin/')),
      ['node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1', 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node'],
    );
    assert.equal(staged.platform.platform, 'linux/arm64');
  });

  it('hashes the same for the same inputs, and differently for another model', () => {
    const again = stageModelImageContext({ modelDir });
    assert.notEqual(again.dir, staged.dir);
    assert.equal(FileSystem.fingerprint(again.dir), FileSystem.fingerprint(staged.dir));
    const other = stageModelImageContext({ modelDir: join(project.root, 'digits', '1') });
    assert.notEqual(FileSystem.fingerprint(other.dir), FileSystem.fingerprint(staged.dir));
  });

  it('serves the model: the staged bundle answers an infer request with the staged onnxruntime', () => {
    // The host architecture's binary, so this process can load it; the image runs the same files.
    const host = stageModelImageContext({ modelDir, architecture: process.arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64 });
    const card = JSON.parse(readFileSync(join(host.dir, 'model/model.json'), 'utf8')) as { input: { features: string[] }; golden: { input: number[]; expected: { label: string } }[] };
    const event = {
      httpMethod: 'POST',
      path: '/v1/models/breast-cancer:predict',
      resource: '/v1/models/breast-cancer:predict',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: [card.golden[0]!.input] }),
      isBase64Encoded: false,
      requestContext: {},
    };
    const script = `require('./index.js').handler(${JSON.stringify(event)}, { awsRequestId: 'test' }).then((r) => process.stdout.write('RESULT ' + JSON.stringify(r)))`;
    // A clean environment: no NODE_OPTIONS (tsx), no node_modules above the staged folder in the way.
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: host.dir,
      env: { PATH: process.env.PATH, MODEL_DIR: join(host.dir, 'model'), POWERTOOLS_METRICS_NAMESPACE: 'mlship', POWERTOOLS_SERVICE_NAME: 'mlship-test', LOG_LEVEL: 'ERROR' },
      encoding: 'utf8',
    });
    const result = JSON.parse(out.slice(out.indexOf('RESULT ') + 7)) as { statusCode: number; headers: Record<string, string>; body: string };
    assert.equal(result.statusCode, 200, result.body);
    assert.equal(result.headers['x-model-version'], '1');
    assert.deepEqual((JSON.parse(result.body) as { predictions: { label: string }[] }).predictions.map((p) => p.label), [card.golden[0]!.expected.label]);
  });
});

describe('stageModelImageContext validation', () => {
  it('names a missing model file', () => {
    const dir = writeModelFolder(project.root, { name: 'half-model' });
    unlinkSync(join(dir, 'model.onnx'));
    assert.throws(() => stageModelImageContext({ modelDir: dir }), { message: `modelDir ${dir} has no model.onnx` });
  });

  it('copies background.json when the card names it (and only then), and names it when it is missing', () => {
    const background = { file: 'background.json' as const, rows: 1, sha256: '0'.repeat(64), seed: 1, source: 'test' };
    const dir = writeModelFolder(project.root, { name: 'explained', card: (card) => ({ ...card, explanation: { background } }) });
    writeFileSync(join(dir, 'background.json'), '{"features": ["f0", "f1", "f2", "f3"], "rows": [[1, 2, 3, 4]]}\n');
    const staged = filesUnder(stageModelImageContext({ modelDir: dir }).dir).filter((f) => f.startsWith('model/'));
    assert.deepEqual(staged, ['model/background.json', 'model/model.json', 'model/model.onnx']);
    const unnamed = writeModelFolder(project.root, { name: 'unexplained' });
    writeFileSync(join(unnamed, 'background.json'), '{}');
    assert.deepEqual(filesUnder(stageModelImageContext({ modelDir: unnamed }).dir).filter((f) => f.startsWith('model/')), ['model/model.json', 'model/model.onnx']);
    unlinkSync(join(dir, 'background.json'));
    assert.throws(() => stageModelImageContext({ modelDir: dir }), { message: `modelDir ${dir} has no background.json, which its model.json names in explanation.background` });
  });

  it('names a missing handler entry', () => {
    assert.throws(() => stageModelImageContext({ modelDir, handlerEntry: join(project.root, 'missing.ts') }), /^Error: handlerEntry .*missing\.ts not found: the inference handler must exist to build a model image$/);
  });

  it('reports a handler that does not bundle, with the file and line', () => {
    const entry = join(project.root, 'broken.ts');
    writeFileSync(entry, "import { nothing } from './does-not-exist';\nexport const handler = nothing;\n");
    assert.throws(() => stageModelImageContext({ modelDir, handlerEntry: entry }), /bundling .*broken\.ts failed:\n.*broken\.ts:1: Could not resolve "\.\/does-not-exist"/);
  });

  it('uses lambdas/inference/index.ts by default', () => {
    assert.match(DEFAULT_HANDLER_ENTRY, /lambdas\/inference\/index\.ts$/);
  });
});

describe('modelImageCode', () => {
  it('gives the same image asset hash in two separate apps', () => {
    const hashes = [1, 2].map(() => {
      const { app, cleanup } = createTestApp();
      try {
        const stack = new Stack(app, 'ImageStack');
        const fn = new lambda.DockerImageFunction(stack, 'Fn', { code: modelImageCode({ modelDir }), architecture: lambda.Architecture.ARM_64 });
        return stack.resolve((fn.node.defaultChild as lambda.CfnFunction).code) as unknown;
      } finally {
        cleanup();
      }
    });
    assert.deepEqual(hashes[0], hashes[1]);
    assert.match(JSON.stringify(hashes[0]), /container-assets-.*:[0-9a-f]{64}/);
  });
});
