// `npm run load` in a bounded form: the shipped manifest's models served by npm start's bundle in its own
// process, 16 connections for 3 s over every model, route and batch size; no errors, no non-2xx answers,
// and the gateway drains and exits 0 afterwards. The full run (64 connections, 60 s) is `npm run load`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { formatLoadResult, LOAD_BATCH_SIZES, loadPassed, loadRequests, runLoad } from '../../scripts/load';

const run = promisify(execFile);

describe('npm run load', () => {
  it('sends each model v1 and v2 requests at every batch size, with the golden inputs', () => {
    const manifest = loadManifest(resolveManifestPath(undefined));
    const requests = loadRequests(manifest.models);
    assert.equal(requests.length, manifest.models.length * 2 * LOAD_BATCH_SIZES.length);
    for (const { entry, card } of manifest.models) {
      const v2 = requests.find((r) => r.route === `v2 ${entry.name} infer x8`)!;
      const tensor = (JSON.parse(v2.body) as { inputs: { name: string; shape: number[]; data: number[] }[] }).inputs[0]!;
      assert.equal(v2.path, `/v2/models/${entry.name}/infer`);
      assert.deepEqual(tensor.shape, [8, card.input.features.length]);
      assert.equal(tensor.name, card.input.tensorName);
      const v1 = requests.find((r) => r.route === `v1 ${entry.name} :predict x32`)!;
      const instances = (JSON.parse(v1.body) as { instances: number[][] }).instances;
      assert.equal(instances.length, 32);
      assert.deepEqual(instances[0], card.golden[0]!.input);
    }
  });

  it('16 connections for 3 s over every model and route: no errors, no non-2xx, the gateway drains and exits 0', async () => {
    const result = await runLoad({ manifestPath: resolveManifestPath(undefined), connections: 16, durationSeconds: 3 });
    const report = formatLoadResult(result);
    assert.equal(result.errors, 0, report);
    assert.equal(result.non2xx, 0, report);
    assert.equal(result.gatewayExitCode, 0, report);
    for (const route of result.routes) assert.ok(route.requests > 0, `${route.route} got requests: ${report}`);
    assert.ok(loadPassed(result));
    assert.match(report, /^ok: no errors, no non-2xx answers$/m);
    assert.match(report, /latency {6}p50 \d+(\.\d+)? ms, p99 \d+(\.\d+)? ms/);
  });

  it('refuses a bad flag with exit 2 and the usage line', async () => {
    await assert.rejects(run(process.execPath, ['--import', 'tsx', 'scripts/load.ts', '--connections', '0']), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /--connections must be an integer from 1 to 10000, received '0'/);
      assert.match(error.stderr, /usage: npm run load -- /);
      return true;
    });
  });
});
