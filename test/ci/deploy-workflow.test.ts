// The example deploy workflow (.github/workflows/deploy.yml), parsed: the jobs and their order, OIDC only
// where AWS is called, the manual approval before production, stages the CDK app accepts, the README's
// commands, actions pinned to a version.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { manifestSchema } from '../../lambdas/core/manifest/schema';
import { PROJECT_ROOT } from '../../lib/serving/model-image';
import { stackName } from '../../lib/stack/mlship-stack';

interface Step {
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, string>;
}
interface Job {
  readonly needs?: string | string[];
  readonly if?: string;
  readonly environment?: string | { name: string };
  readonly permissions?: Record<string, string>;
  readonly strategy?: { matrix: { include?: Record<string, string>[]; stage?: string[] } };
  readonly steps: Step[];
}
interface Workflow {
  readonly on: Record<string, unknown>;
  readonly permissions: Record<string, string>;
  readonly jobs: Record<string, Job>;
}

const workflow = parse(readFileSync(join(PROJECT_ROOT, '.github/workflows/deploy.yml'), 'utf8')) as Workflow;
const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const jobs = workflow.jobs;
const needs = (job: Job) => (job.needs === undefined ? [] : typeof job.needs === 'string' ? [job.needs] : job.needs);
const runs = (job: Job) => job.steps.flatMap((s) => (s.run ? [s.run.trim()] : []));
const environmentOf = (job: Job) => (typeof job.environment === 'string' ? job.environment : job.environment?.name);
/** The stage a deploy job works on: from its `-c stage=...` commands, which must all agree. */
function stageOf(job: Job): string {
  const stages = new Set(runs(job).flatMap((r) => [...r.matchAll(/-c stage=(\S+)/g), ...r.matchAll(/--stage (\S+)/g)].map((m) => m[1]!)));
  assert.equal(stages.size, 1, `one stage per job: ${[...stages].join(', ')}`);
  return [...stages][0]!;
}
const callsAws = (job: Job) => job.steps.some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));

describe('the example deploy workflow', () => {
  it('has the jobs test, diff (pull requests), deploy-staging, deploy-production, in that order', () => {
    assert.deepEqual(Object.keys(jobs).sort(), ['deploy-production', 'deploy-staging', 'diff', 'test']);
    assert.deepEqual(needs(jobs.test!), []);
    assert.deepEqual(needs(jobs.diff!), ['test']);
    assert.deepEqual(needs(jobs['deploy-staging']!), ['test']);
    assert.deepEqual(needs(jobs['deploy-production']!), ['deploy-staging'], 'production only after staging is deployed and verified');
    assert.ok(Object.keys(workflow.on).includes('pull_request') && Object.keys(workflow.on).includes('push'));
    assert.match(jobs.diff!.if ?? '', /github\.event_name == 'pull_request'/);
    // Deploys happen from main only, never from a pull request.
    assert.match(jobs['deploy-staging']!.if ?? '', /github\.event_name != 'pull_request'/);
    assert.match(jobs['deploy-staging']!.if ?? '', /github\.ref == 'refs\/heads\/main'/);
  });

  it('runs npm ci and npm test (through .ci/run) before anything deploys', () => {
    assert.deepEqual(runs(jobs.test!), ['sudo bash .ci/run']);
    const ci = readFileSync(join(PROJECT_ROOT, '.ci/run'), 'utf8').split('\n').map((l) => l.trim());
    assert.ok(ci.includes('npm ci') && ci.includes('npm test'), '.ci/run installs with npm ci and runs npm test');
    assert.ok(ci.indexOf('npm ci') < ci.indexOf('npm test'));
    for (const name of ['diff', 'deploy-staging', 'deploy-production']) assert.equal(runs(jobs[name]!)[0], 'npm ci', `${name} installs with npm ci first`);
  });

  it('asks for an OIDC token only in the jobs that assume an AWS role, and reads the code only everywhere else', () => {
    assert.deepEqual(workflow.permissions, { contents: 'read' });
    for (const [name, job] of Object.entries(jobs)) {
      if (callsAws(job)) {
        assert.deepEqual(job.permissions, { contents: 'read', 'id-token': 'write' }, `${name} needs id-token: write for OIDC`);
        const credentials = job.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))!;
        assert.match(credentials.with?.['role-to-assume'] ?? '', /^\$\{\{ vars(\.|\[)/, `${name} assumes a role named in a variable, no stored keys`);
        assert.equal(credentials.with?.['aws-access-key-id'], undefined);
        // Credentials come before the first AWS command.
        const at = job.steps.indexOf(credentials);
        assert.ok(job.steps.findIndex((s) => /npx (cdk|mlship) /.test(s.run ?? '')) > at, `${name}: credentials before cdk`);
      } else {
        assert.equal(job.permissions?.['id-token'], undefined, `${name} calls no AWS and gets no token`);
      }
    }
    assert.equal(callsAws(jobs.test!), false);
    assert.ok(callsAws(jobs.diff!) && callsAws(jobs['deploy-staging']!) && callsAws(jobs['deploy-production']!));
  });

  it('deploys staging, then production behind its environment (the manual approval); pull requests get no environment', () => {
    assert.equal(environmentOf(jobs['deploy-staging']!), 'staging');
    assert.equal(environmentOf(jobs['deploy-production']!), 'production');
    // A pull request job in the production environment would wait for its reviewers and hold its deploy role.
    assert.equal(environmentOf(jobs.diff!), undefined);
    for (const name of ['deploy-staging', 'deploy-production']) {
      const commands = runs(jobs[name]!);
      const stage = stageOf(jobs[name]!);
      assert.equal(stage, environmentOf(jobs[name]!), `${name}: the GitHub environment is the stage`);
      const diff = commands.indexOf(`npx cdk diff -c stage=${stage}`);
      const deploy = commands.indexOf(`npx cdk deploy --all -c stage=${stage} --require-approval never`);
      const verify = commands.indexOf(`npx mlship verify --stage ${stage}`);
      assert.ok(diff !== -1 && diff < deploy && deploy < verify, `${name}: diff, deploy, verify: ${commands.join(' | ')}`);
    }
  });

  it('uses stages the CDK app accepts as context, the same ones for the pull-request diff and the deploys', () => {
    const { manifest } = loadManifest(resolveManifestPath(undefined, PROJECT_ROOT));
    const deployed = ['deploy-staging', 'deploy-production'].map((name) => stageOf(jobs[name]!));
    const diffed = (jobs.diff!.strategy?.matrix.include ?? []).map((entry) => entry.stage!);
    assert.deepEqual(diffed, deployed);
    assert.deepEqual(runs(jobs.diff!), ['npm ci', 'npx cdk diff -c stage=${{ matrix.stage }} --method template']);
    for (const stage of deployed) {
      // -c stage overrides the manifest's stage: it must pass the same rule, and names the stack.
      const parsed = manifestSchema.safeParse({ ...manifest, stage });
      assert.ok(parsed.success, `stage '${stage}' passes the manifest's stage rule`);
      assert.match(stackName(manifest.project, stage), new RegExp(`^${manifest.project}-${stage}$`));
    }
    assert.notEqual(deployed[0], deployed[1], 'two stacks, not one deployed twice');
    // Each diff entry names its own read-only role variable, listed in the setup comment.
    const source = readFileSync(join(PROJECT_ROOT, '.github/workflows/deploy.yml'), 'utf8');
    for (const entry of jobs.diff!.strategy!.matrix.include!) assert.ok(source.startsWith('#') && source.includes(entry.role!), `${entry.role} documented`);
  });

  it("runs the README's commands", () => {
    const documented = new Set(
      readme
        .split('\n')
        .map((line) => line.replace(/\s+#.*$/, '').trim())
        .filter((line) => /^(npm|npx|sudo) /.test(line)),
    );
    for (const [name, job] of Object.entries(jobs)) {
      for (const command of runs(job)) {
        const generic = command.replace(/\$\{\{ matrix\.stage \}\}/g, '<stage>').replace(/(-c stage=|--stage )(staging|production)\b/g, '$1<stage>');
        assert.ok(documented.has(generic), `${name} runs '${command}': the README's Deploying section shows '${generic}'`);
      }
    }
  });

  it('pins every action to a release tag or a commit, never a branch', () => {
    const uses = Object.values(jobs).flatMap((job) => job.steps.flatMap((s) => (s.uses ? [s.uses] : [])));
    assert.ok(uses.length >= 9);
    for (const action of uses) {
      assert.match(action, /^[\w.-]+\/[\w.-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/, `${action} pinned to a version`);
    }
    assert.ok(uses.includes('aws-actions/configure-aws-credentials@v4'));
  });
});
