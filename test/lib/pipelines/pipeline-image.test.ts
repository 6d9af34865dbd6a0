// The pipeline image: one build context with a bundle per handler, every model, and onnxruntime for one
// architecture; each function runs its own handler from the same image asset.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileSystem, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { PipelineImage } from '../../../lib/pipelines/pipeline-image';
import { createTestApp } from '../../fixtures/cdk-app';
import { createFixtureProject } from '../../fixtures/model-folder';

const project = createFixtureProject();
after(() => project.cleanup());
const models = { 'breast-cancer': join(project.root, 'breast-cancer', '1'), digits: join(project.root, 'digits', '1') };

function entry(name: string, body: string): string {
  const file = join(project.root, `${name}.ts`);
  writeFileSync(file, body);
  return file;
}
const handlers = {
  'step-one': entry('step-one', "export const handler = async () => 'one';\n"),
  'step-two': entry('step-two', "export const handler = async () => 'two';\n"),
};

function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isFile(): boolean }[])
    .filter((e) => e.isFile() && !e.parentPath.includes('node_modules'))
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('PipelineImage', () => {
  const image = new PipelineImage({ handlers, models });

  it('stages one bundle per handler, every model, and a Dockerfile copying them', () => {
    assert.deepEqual(filesUnder(image.dir), [
      'Dockerfile',
      'models/breast-cancer/model.json',
      'models/breast-cancer/model.onnx',
      'models/digits/model.json',
      'models/digits/model.onnx',
      'package.json',
      'step-one/index.js',
      'step-one/index.js.map',
      'step-two/index.js',
      'step-two/index.js.map',
    ]);
    const dockerfile = readFileSync(join(image.dir, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM public\.ecr\.aws\/lambda\/nodejs:22$/m);
    assert.match(dockerfile, /^COPY models\/ \/opt\/ml\/models\/$/m);
    assert.match(dockerfile, /^COPY step-one\/ \$\{LAMBDA_TASK_ROOT\}\/step-one\/$/m);
    assert.match(dockerfile, /^COPY step-two\/ \$\{LAMBDA_TASK_ROOT\}\/step-two\/$/m);
    assert.deepEqual(readFileSync(join(image.dir, 'models/digits/model.onnx')), readFileSync(join(models.digits, 'model.onnx')));
    assert.equal(image.platform.platform, 'linux/arm64');
  });

  it('ships onnxruntime for the one architecture', () => {
    const binaries = (readdirSync(join(image.dir, 'node_modules/onnxruntime-node/bin/napi-v6/linux')) as string[]).sort();
    assert.deepEqual(binaries, ['arm64']);
  });

  it('hashes the same when staged again', () => {
    assert.equal(FileSystem.fingerprint(new PipelineImage({ handlers, models }).dir), FileSystem.fingerprint(image.dir));
  });

  it('gives each function its handler as the image command, from one image asset', () => {
    const { app, cleanup } = createTestApp();
    try {
      const stack = new Stack(app, 'ImageStack');
      new lambda.DockerImageFunction(stack, 'One', { code: image.code('step-one') });
      new lambda.DockerImageFunction(stack, 'Two', { code: image.code('step-two') });
      const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')) as { Properties: { Code: { ImageUri: unknown }; ImageConfig: { Command: string[] } } }[];
      assert.deepEqual(functions.map((f) => f.Properties.ImageConfig.Command).sort(), [['step-one/index.handler'], ['step-two/index.handler']]);
      assert.equal(JSON.stringify(functions[0]!.Properties.Code.ImageUri), JSON.stringify(functions[1]!.Properties.Code.ImageUri), 'one image for both');
    } finally {
      cleanup();
    }
  });

  it('refuses an unknown handler, a bad handler name, no handlers, and a model folder without its files', () => {
    assert.throws(() => image.code('step-three'), { message: "the pipeline image has no handler 'step-three' (it has: step-one, step-two)" });
    assert.throws(() => new PipelineImage({ handlers: { 'Step One': handlers['step-one'] }, models }), /handler name must be lower-case letters, digits or dashes, received 'Step One'/);
    assert.throws(() => new PipelineImage({ handlers: {}, models }), { message: 'a pipeline image needs at least one handler' });
    assert.throws(() => new PipelineImage({ handlers, models: { empty: project.root } }), /^Error: model empty: .* has no model\.onnx or model\.json$/);
  });
});
