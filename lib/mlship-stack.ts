// The stack for one manifest and stage: per Lambda model a function and its release (versions, the `live`
// alias, CodeDeploy, alarms, the pre-traffic hook), and the API in front of the aliases.
// It only wires constructs together; everything it needs comes from the loaded, validated manifest.
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { ManifestError, type LoadedManifest, type LoadedModel } from './manifest/load';
import { InferenceApi } from './inference-api';
import { ModelFunction } from './model-function';
import { ModelRelease, releaseProblems } from './model-release';

export interface MlshipStackProps extends Omit<StackProps, 'stackName'> {
  /** The manifest and its models, as `loadManifest` returns them (already validated). */
  readonly loaded: LoadedManifest;
  /**
   * Deployment stage; overrides the manifest's `stage`.
   * @default - the manifest's stage
   */
  readonly stage?: string;
  /**
   * TypeScript entry of the inference handler bundled into every model image.
   * @default - lambdas/inference/index.ts
   */
  readonly handlerEntry?: string;
  /**
   * TypeScript entry of the pre-traffic hook bundled into every model's hook function.
   * @default - lambdas/pre-traffic-hook/index.ts
   */
  readonly hookEntry?: string;
}

/** 'breast-cancer' -> 'BreastCancer': construct ids and output names. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** The stack name for a project and stage: `${project}-${stage}`. */
export function stackName(project: string, stage: string): string {
  return `${project}-${stage}`;
}

const STAGE_PATTERN = /^[a-z][a-z0-9]{0,11}$/;

/** Manifest models this foundation cannot serve yet, as manifest problems. */
function unavailableRuntimes(models: readonly LoadedModel[]): string[] {
  return models
    .filter((m) => m.entry.runtime !== 'lambda')
    .map((m) => `models[${m.index}] (${m.entry.name}): runtime '${m.entry.runtime}' is not available yet; use runtime: lambda`);
}

/** Names that differ only where pascalCase drops a dash ('model-1', 'model1') would share construct ids. */
function idCollisions(models: readonly LoadedModel[]): string[] {
  const byId = new Map<string, LoadedModel>();
  const problems: string[] = [];
  for (const model of models) {
    const id = pascalCase(model.entry.name);
    const other = byId.get(id);
    if (other) {
      problems.push(`models[${model.index}].name '${model.entry.name}' and models[${other.index}].name '${other.entry.name}' both become the CloudFormation id '${id}'; rename one`);
    } else {
      byId.set(id, model);
    }
  }
  return problems;
}

/** Release settings CodeDeploy or Lambda would refuse, or that could never work, with their manifest paths. */
function impossibleReleases(models: readonly LoadedModel[]): string[] {
  return models
    .filter((m) => m.entry.runtime === 'lambda')
    .flatMap((m) =>
      releaseProblems(m.entry.release, `models[${m.index}].release`, {
        timeoutSeconds: m.entry.lambda.timeoutSeconds,
        reservedConcurrency: m.entry.lambda.reservedConcurrency,
      }),
    );
}

export class MlshipStack extends Stack {
  public readonly api: InferenceApi;
  /** The function of each Lambda model, by model name. */
  public readonly modelFunctions: ReadonlyMap<string, ModelFunction>;
  /** The release (version, `live` alias, deployment group, alarms, hook) of each Lambda model, by model name. */
  public readonly modelReleases: ReadonlyMap<string, ModelRelease>;
  public readonly stage: string;

  constructor(scope: Construct, id: string | undefined, props: MlshipStackProps) {
    const { loaded, stage: stageOverride, handlerEntry, hookEntry, ...stackProps } = props;
    const { manifest } = loaded;
    const stage = stageOverride ?? manifest.stage;
    if (!STAGE_PATTERN.test(stage)) {
      throw new ManifestError(loaded.file, [`stage must be up to 12 lower-case letters or digits, starting with a letter, received '${stage}'`]);
    }
    const problems = [...unavailableRuntimes(loaded.models), ...idCollisions(loaded.models), ...impossibleReleases(loaded.models)];
    if (problems.length > 0) throw new ManifestError(loaded.file, problems);

    const name = stackName(manifest.project, stage);
    super(scope, id ?? name, {
      ...stackProps,
      stackName: name,
      description: `mlship ${manifest.project} (${stage}): ${loaded.models.map((m) => `${m.entry.name} v${m.entry.version}`).join(', ')}`,
      // With @aws-cdk/core:explicitStackTags, stack tags are set here; CloudFormation copies them to resources.
      tags: { ...stackProps.tags, project: manifest.project, stage },
    });
    this.stage = stage;

    const functions = new Map<string, ModelFunction>();
    const releases = new Map<string, ModelRelease>();
    for (const model of loaded.models) {
      const { entry } = model;
      const id = pascalCase(entry.name);
      const fn = new ModelFunction(this, `${id}Model`, {
        modelName: entry.name,
        modelVersion: entry.version,
        modelDir: model.dir,
        memoryMb: entry.lambda.memoryMb,
        timeoutSeconds: entry.lambda.timeoutSeconds,
        architecture: entry.lambda.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
        reservedConcurrency: entry.lambda.reservedConcurrency,
        maxBodyBytes: manifest.api.maxBodyBytes,
        maxBatchSize: entry.maxBatchSize,
        handlerEntry,
      });
      functions.set(entry.name, fn);
      releases.set(
        entry.name,
        new ModelRelease(this, `${id}Release`, {
          function: fn.function,
          modelName: entry.name,
          modelVersion: entry.version,
          modelDir: model.dir,
          strategy: entry.release.strategy,
          percent: entry.release.percent,
          intervalMinutes: entry.release.intervalMinutes,
          alarms: entry.release.alarms,
          provisionedConcurrency: entry.release.provisionedConcurrency,
          hookEntry,
        }),
      );
    }
    this.modelFunctions = functions;
    this.modelReleases = releases;

    this.api = new InferenceApi(this, 'Api', {
      stageName: stage,
      restApiName: name,
      defaultThrottle: manifest.api.throttle,
      // The API calls each model's `live` alias, so CodeDeploy decides which version answers.
      models: loaded.models.map((m) => ({ name: m.entry.name, handler: releases.get(m.entry.name)!.alias, throttle: m.entry.throttle })),
    });

    new CfnOutput(this, 'ApiUrl', { value: this.api.api.url, description: 'Base URL of the inference API (stage included)' });
    for (const [modelName, fn] of functions) {
      const id = pascalCase(modelName);
      new CfnOutput(this, `${id}FunctionName`, { value: fn.function.functionName, description: `Lambda function serving ${modelName} v${fn.modelVersion}` });
      new CfnOutput(this, `${id}InferUrl`, { value: this.api.urlForPath(`/v2/models/${modelName}/infer`), description: `POST here to run ${modelName} (Open Inference Protocol v2)` });
    }
  }
}
