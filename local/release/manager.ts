// Sets up the release of every model when the gateway starts: compares the manifest's version with the
// version live in .mlship/state.json, resumes a deployment left in progress, or starts a new one (golden
// check first), and keeps the state file current.
import { join } from 'node:path';
import { checkGoldenCases, goldenPredictFromModel } from '../../lambdas/core/release/golden-check';
import { ServedModel } from '../../lambdas/core/models/inference-session';
import type { InferenceHandler } from '../../lambdas/inference/handler';
import { loadModelFolder, type LoadedManifest, type LoadedModel } from '../../lambdas/core/manifest/load';
import type { ModelEntry, Release } from '../../lambdas/core/manifest/schema';
import type { AlertSink } from './alerts';
import { ModelRelease, newDeployment, type ReleaseStatus, type VersionHandle } from './controller';
import { ReleaseStateStore, type ModelReleaseState, type ReleaseState } from './state';

export interface ReleaseManagerOptions {
  readonly manifest: LoadedManifest;
  readonly store: ReleaseStateStore;
  readonly alerts: AlertSink;
  /** Builds the handler that serves one loaded version of a model. */
  readonly makeHandler: (model: ServedModel, entry: ModelEntry) => InferenceHandler;
  /** @default 1 */
  readonly timeScale?: number;
}

/**
 * The release a model gets locally. A Lambda model's is its `release` block (CodeDeploy's in the cloud).
 * A SageMaker model is released by the endpoint's blue/green canary in the cloud, so locally it gets that
 * shape: `sagemaker.canary.percent` for `waitMinutes`, then all, judged with its p99 model-latency
 * threshold and the `release` block's other alarms.
 */
export function effectiveRelease(entry: ModelEntry): Release {
  const sagemaker = entry.sagemaker;
  if (entry.runtime !== 'sagemaker' || !sagemaker) return entry.release;
  return {
    ...entry.release,
    strategy: 'canary',
    percent: sagemaker.canary.percent,
    intervalMinutes: sagemaker.canary.waitMinutes,
    alarms: { ...entry.release.alarms, p99LatencyMs: sagemaker.alarms.p99ModelLatencyMs },
  };
}

export class ReleaseError extends Error {
  override readonly name = 'ReleaseError';
}

export class ReleaseManager {
  private constructor(
    private readonly options: ReleaseManagerOptions,
    private readonly state: ReleaseState,
    private readonly releases: Map<string, ModelRelease>,
    private readonly loaded: ServedModel[],
  ) {}

  static async start(options: ReleaseManagerOptions): Promise<ReleaseManager> {
    const state = options.store.load();
    const manager = new ReleaseManager(options, state, new Map(), []);
    try {
      for (const model of options.manifest.models) {
        manager.releases.set(model.entry.name, await setUpModel(model, state, options, manager.loaded, manager.persist));
      }
    } catch (error) {
      await Promise.all(manager.loaded.map((m) => m.release()));
      throw error;
    }
    manager.persist();
    return manager;
  }

  private readonly persist = (): void => this.options.store.save(this.state);

  get(name: string): ModelRelease | undefined {
    return this.releases.get(name);
  }

  statuses(): ReleaseStatus[] {
    return [...this.releases.values()].map((r) => r.status());
  }

  /**
   * Releases the manifest's version of a model again after it was rolled back or refused: golden check,
   * then the schedule from its first step. Throws ReleaseError when there is nothing to retry.
   */
  async retry(name: string): Promise<ReleaseStatus> {
    const model = this.options.manifest.models.find((m) => m.entry.name === name);
    const current = this.releases.get(name);
    const modelState = this.state.models[name];
    if (!model || !current || !modelState) throw new ReleaseError(`model '${name}' is not served`);
    if (modelState.deployment) throw new ReleaseError(`${name}: a deployment is already in progress`);
    if (!modelState.rejected.includes(model.entry.version)) throw new ReleaseError(`${name}: v${model.entry.version} was not rolled back or refused; nothing to retry`);
    modelState.rejected = modelState.rejected.filter((v) => v !== model.entry.version);
    const stable = current.versions[0]!;
    const make = (s: ModelReleaseState, stableHandle: VersionHandle, candidate?: VersionHandle) =>
      new ModelRelease({ name, release: effectiveRelease(model.entry), state: s, stable: stableHandle, candidate, alerts: this.options.alerts, persist: this.persist, timeScale: this.options.timeScale });
    const next = await startDeployment(model, modelState, stable, this.options, this.loaded, make);
    this.releases.set(name, next);
    this.persist();
    return next.status();
  }

  /** Stops the timers and frees every session; deployments in progress stay recorded for the next start. */
  async close(): Promise<void> {
    for (const release of this.releases.values()) release.stop();
    await Promise.all(this.loaded.map((m) => m.release()));
  }
}

async function loadVersion(model: LoadedModel, version: number, options: ReleaseManagerOptions, loaded: ServedModel[]): Promise<VersionHandle> {
  const dir = version === model.entry.version ? model.dir : join(options.manifest.root, model.entry.name, String(version));
  const served = await ServedModel.load(dir);
  loaded.push(served);
  return { version, model: served, handler: options.makeHandler(served, model.entry) };
}

/** Problems with a version's folder (missing, or not a valid model), for a version the manifest does not name. */
function folderProblems(model: LoadedModel, version: number, manifestRoot: string): string[] {
  const dir = join(manifestRoot, model.entry.name, String(version));
  return loadModelFolder(dir, `${model.entry.name} v${version}`, { name: model.entry.name, version }).problems;
}

async function setUpModel(model: LoadedModel, state: ReleaseState, options: ReleaseManagerOptions, loaded: ServedModel[], persist: () => void): Promise<ModelRelease> {
  const { entry } = model;
  const { alerts } = options;
  const name = entry.name;
  const target = entry.version;
  const make = (modelState: ModelReleaseState, stable: VersionHandle, candidate?: VersionHandle) =>
    new ModelRelease({ name, release: effectiveRelease(entry), state: modelState, stable, candidate, alerts, persist, timeScale: options.timeScale });

  let modelState = state.models[name];
  if (!modelState) {
    // First start with this model: the manifest's version is live, as after a first `cdk deploy`.
    modelState = { live: target, rejected: [], history: [] };
    state.models[name] = modelState;
    return make(modelState, await loadVersion(model, target, options, loaded));
  }

  const inProgress = modelState.deployment;
  if (inProgress && inProgress.to === target && folderProblems(model, inProgress.from, options.manifest.root).length === 0) {
    const stable = await loadVersion(model, inProgress.from, options, loaded);
    const candidate = await loadVersion(model, target, options, loaded);
    alerts.emit({ level: 'warning', model: name, event: 'resumed', message: `deployment v${inProgress.from} -> v${target} resumed after a restart at step ${inProgress.step + 1}, ${inProgress.weight}% to v${target}` });
    return make(modelState, stable, candidate);
  }
  if (inProgress) {
    // The manifest moved on (or the old version's files are gone): the half-done deployment ends here.
    const reason = inProgress.to === target ? `v${inProgress.from}'s files are missing` : `the manifest now names v${target}`;
    modelState.history = [...modelState.history, { id: inProgress.id, from: inProgress.from, to: inProgress.to, outcome: 'rolled-back' as const, reason, by: 'restart' as const, at: new Date().toISOString() }];
    modelState.deployment = undefined;
    alerts.emit({ level: 'warning', model: name, event: 'rolled-back', message: `deployment v${inProgress.from} -> v${inProgress.to} was in progress at restart and is rolled back: ${reason}` });
  }

  if (modelState.live === target) return make(modelState, await loadVersion(model, target, options, loaded));

  const liveProblems = folderProblems(model, modelState.live, options.manifest.root);
  if (liveProblems.length > 0) {
    // Nothing to roll back to: serve the manifest's version once it passes its golden cases.
    const only = await loadVersion(model, target, options, loaded);
    const check = await checkGoldenCases(only.model.card, goldenPredictFromModel(only.model));
    if (!check.passed) throw new ReleaseError(`${name}: live v${modelState.live} cannot be loaded (${liveProblems[0]}) and v${target} fails its golden check: ${check.message}`);
    alerts.emit({ level: 'warning', model: name, event: 'promoted', message: `v${target} serves all traffic without a canary: live v${modelState.live} cannot be loaded (${liveProblems[0]})` });
    modelState.live = target;
    return make(modelState, only);
  }

  const stable = await loadVersion(model, modelState.live, options, loaded);
  if (modelState.rejected.includes(target)) {
    alerts.emit({ level: 'warning', model: name, event: 'rejected', message: `v${target} was rolled back or refused before; v${stable.version} keeps all traffic. Release it again with \`npx mlship canary retry --model ${name}\`, or name another version` });
    return make(modelState, stable);
  }
  return startDeployment(model, modelState, stable, options, loaded, make);
}

/** Golden check, then the first step of the schedule; a failed check leaves the stable version alone. */
async function startDeployment(
  model: LoadedModel,
  modelState: ModelReleaseState,
  stable: VersionHandle,
  options: ReleaseManagerOptions,
  loaded: ServedModel[],
  make: (modelState: ModelReleaseState, stable: VersionHandle, candidate?: VersionHandle) => ModelRelease,
): Promise<ModelRelease> {
  const { entry } = model;
  const candidate = await loadVersion(model, entry.version, options, loaded);
  const check = await checkGoldenCases(candidate.model.card, goldenPredictFromModel(candidate.model));
  if (!check.passed) {
    modelState.rejected = [...new Set([...modelState.rejected, entry.version])];
    modelState.history = [...modelState.history, { id: `golden-${Date.now()}`, from: stable.version, to: entry.version, outcome: 'failed-golden-check' as const, reason: check.message, by: 'controller' as const, at: new Date().toISOString() }];
    options.alerts.emit({ level: 'critical', model: entry.name, event: 'golden-check-failed', message: `v${entry.version} gets no traffic: ${check.message}; v${stable.version} keeps all traffic` });
    return make(modelState, stable);
  }
  modelState.deployment = newDeployment(stable.version, entry.version, effectiveRelease(entry));
  const release = effectiveRelease(entry);
  options.alerts.emit({
    level: 'info',
    model: entry.name,
    event: 'release-started',
    message: `v${stable.version} -> v${entry.version}: golden check passed (${check.cases.length} cases); ${release.strategy} ${modelState.deployment.weight}% to v${entry.version}, every ${release.intervalMinutes} min`,
  });
  return make(modelState, stable, candidate);
}
