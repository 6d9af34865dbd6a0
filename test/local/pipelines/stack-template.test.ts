// The local runs' synth skips bundling, asset staging and CloudFormation validation to save seconds per
// `mlship batch` / `mlship retrain`. What they run must still be what deploys: the same resources, the same
// state machine definitions and the same IAM policies as the full synth `cdk deploy` makes; only the
// staged code of the functions and images may differ.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadManifest, resolveManifestPath } from '../../../lambdas/core/manifest/load';
import { MlshipStack } from '../../../lib/stack/mlship-stack';
import { synthesizeStackTemplate } from '../../../local/pipelines/stack-template';
import { createTestApp } from '../../fixtures/cdk-app';
import { resourcesOfType, type TemplateResource } from '../../fixtures/every-stack';

type Resources = Record<string, TemplateResource>;

const loaded = loadManifest(resolveManifestPath(undefined));

function fullSynth(): Resources {
  const { app, cleanup } = createTestApp();
  try {
    const stack = new MlshipStack(app, undefined, { loaded });
    return app.synth().getStackArtifact(stack.artifactId).template.Resources as Resources;
  } finally {
    cleanup();
  }
}

const ofType = (resources: Resources, type: string) => Object.fromEntries(resourcesOfType(resources, type).map(([id, r]) => [id, r.Properties]));

describe('the local runs\' synth', () => {
  const deployed = fullSynth();
  const local = synthesizeStackTemplate(loaded).template.Resources as Resources;

  it('makes the same resources as the full synth', () => {
    const shape = (resources: Resources) => Object.entries(resources).map(([id, r]) => `${id} ${r.Type}`).sort();
    assert.deepEqual(shape(local), shape(deployed));
  });

  it('gives the same state machines, definitions included, and the same IAM policies', () => {
    for (const type of ['AWS::StepFunctions::StateMachine', 'AWS::IAM::Policy', 'AWS::IAM::Role', 'AWS::Events::Rule']) {
      const expected = ofType(deployed, type);
      assert.ok(Object.keys(expected).length > 0, `the stack has ${type} resources`);
      assert.deepEqual(ofType(local, type), expected, type);
    }
  });

  it('differs only in the functions\' staged code', () => {
    const differing = Object.keys(deployed).filter((id) => JSON.stringify(local[id]) !== JSON.stringify(deployed[id]));
    for (const id of differing) {
      assert.equal(deployed[id]!.Type, 'AWS::Lambda::Function', `${id} (${deployed[id]!.Type}) differs`);
      const withoutCode = (r: Resources[string]) => JSON.stringify({ ...r.Properties, Code: undefined });
      assert.equal(withoutCode(local[id]!), withoutCode(deployed[id]!), `${id} differs beyond its Code`);
    }
  });
});
