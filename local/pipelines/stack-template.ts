// The synthesized template of the manifest's stack, made in process, so that a local pipeline run executes
// the very state machine definitions `cdk deploy` would deploy. Synthesis needs no AWS account and no
// Docker (images are only staged); it takes a few seconds, in a temporary folder removed afterwards.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { LoadedManifest } from '../../lambdas/core/manifest/load';
import { PROJECT_ROOT } from '../../lib/serving/model-image';
import { MlshipStack } from '../../lib/stack/mlship-stack';
import { withoutBundling } from '../../lib/private/bundle';
import { definitionFromTemplate, localReferences, stateMachineLogicalIds, TemplateDefinitionError, type LocalReference } from './template-definition';
import type { JsonObject } from './checks';

export interface StackTemplate {
  readonly template: JsonObject & { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  readonly stage: string;
}

/** The feature flags of cdk.json, so an in-process synth behaves as `cdk synth` does. */
function projectContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
}

/** Synthesizes the manifest's stack (with cdk.json's context) and returns its template. */
export function synthesizeStackTemplate(loaded: LoadedManifest, options: { stage?: string } = {}): StackTemplate {
  const outdir = mkdtempSync(join(tmpdir(), 'mlship-synth-'));
  try {
    // A local run reads only the definitions, so this synth skips what `cdk synth` and the template tests
    // do for deploying: bundling the handlers (~5 s), copying assets into the assembly, and CloudFormation
    // validation (~3 s, and its warnings printed on every `mlship batch`). The definitions are the same
    // (test/local/pipelines/stack-template.test.ts compares them with a full synth's).
    const app = new App({ outdir, context: { ...projectContext(), 'aws:cdk:disable-asset-staging': true }, builtinCloudFormationValidation: false });
    const stack = withoutBundling(() => new MlshipStack(app, undefined, { loaded, ...(options.stage !== undefined ? { stage: options.stage } : {}) }));
    const assembly = app.synth();
    const template = assembly.getStackArtifact(stack.artifactId).template as StackTemplate['template'];
    return { template, stage: stack.stage };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The logical id of the state machine whose `StateMachineName` is `name`. */
export function stateMachineIdByName(template: StackTemplate['template'], name: string): string {
  const ids = stateMachineLogicalIds(template);
  const id = ids.find((candidate) => template.Resources[candidate]?.Properties?.StateMachineName === name);
  if (id === undefined) {
    const names = ids.map((candidate) => String(template.Resources[candidate]?.Properties?.StateMachineName ?? candidate));
    throw new TemplateDefinitionError(`the stack has no state machine named '${name}' (it has: ${names.join(', ') || 'none'})`);
  }
  return id;
}

/** The definition of the state machine named `name`, with the template's references resolved locally (overrides win). */
export function stateMachineDefinition(template: StackTemplate['template'], name: string, overrides: Readonly<Record<string, LocalReference>> = {}): JsonObject {
  const references = { ...localReferences(template), ...overrides };
  return definitionFromTemplate(template, stateMachineIdByName(template, name), { references });
}
