// The CDK app end to end: the real `npx cdk synth` on the shipped manifest with no AWS account,
// credentials or network, and the app's exit status and message for a bad manifest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadManifest } from '../../lib/manifest/load';
import { PROJECT_ROOT } from '../../lib/model-image';
import { createFixtureProject } from '../fixtures/model-folder';
import { tempDirMaker } from '../fixtures/temp-dirs';

const tempOutdir = tempDirMaker('mlship-synth-');

/** The environment of a machine with no AWS account: no AWS_* variables, no instance metadata to probe. */
function offlineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('CDK_')));
  return { ...env, AWS_EC2_METADATA_DISABLED: 'true', ...extra };
}

describe('npx cdk synth', () => {
  it('synthesizes the shipped manifest offline, with the stage from context', () => {
    const shipped = loadManifest(join(PROJECT_ROOT, 'models', 'manifest.yaml'));
    assert.deepEqual(
      shipped.models.map((m) => [m.entry.name, m.entry.version, m.entry.runtime]),
      [
        ['breast-cancer', 1, 'lambda'],
        ['digits', 1, 'lambda'],
      ],
    );
    const outdir = tempOutdir();
    const result = spawnSync('npx', ['--no', 'cdk', 'synth', '--quiet', '-c', 'stage=ci', '-o', outdir], { cwd: PROJECT_ROOT, env: offlineEnv(), encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `cdk synth failed:\n${result.stdout}\n${result.stderr}`);
    const template = JSON.parse(readFileSync(join(outdir, 'mlship-ci.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: { PackageType?: string } }>; Outputs: Record<string, unknown> };
    assert.equal(Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.PackageType === 'Image').length, 2);
    // Each model is released through its live alias by CodeDeploy, gated by its own pre-traffic hook.
    const count = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type).length;
    assert.deepEqual([count('AWS::Lambda::Alias'), count('AWS::CodeDeploy::DeploymentGroup'), count('AWS::Lambda::Function')], [2, 2, 4]);
    assert.deepEqual(Object.keys(template.Outputs).sort(), ['ApiUrl', 'BreastCancerFunctionName', 'BreastCancerInferUrl', 'DigitsFunctionName', 'DigitsInferUrl']);
  });
});

describe('bin/app.ts', () => {
  const project = createFixtureProject({ manifest: { models: [{ name: 'breast-cancer', version: 1 }, { name: 'digits', version: 1, runtime: 'gpu' }] } });
  const sagemaker = createFixtureProject({ manifest: { models: [{ name: 'breast-cancer', version: 1 }, { name: 'digits', version: 1, runtime: 'sagemaker' }] } });
  after(() => {
    project.cleanup();
    sagemaker.cleanup();
  });

  function runApp(context: Record<string, string>) {
    return spawnSync(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
      cwd: PROJECT_ROOT,
      env: offlineEnv({ CDK_CONTEXT_JSON: JSON.stringify(context), CDK_OUTDIR: tempOutdir() }),
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  it('prints every manifest problem with its path and exits 1, without a stack trace', () => {
    const result = runApp({ manifest: project.manifestPath });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `Invalid manifest ${project.manifestPath}:\n  - models[1].runtime must be one of lambda, sagemaker, received 'gpu'\n`);
    assert.equal(result.stdout, '');
  });

  it('refuses runtime sagemaker until it is available, the same way', () => {
    const result = runApp({ manifest: sagemaker.manifestPath });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `Invalid manifest ${sagemaker.manifestPath}:\n  - models[1] (digits): runtime 'sagemaker' is not available yet; use runtime: lambda\n`);
  });

  it('names a manifest that does not exist', () => {
    const missing = join(tmpdir(), 'no-such-manifest.yaml');
    const result = runApp({ manifest: missing });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, `Invalid manifest ${missing}:\n  - file not found\n`);
  });
});
