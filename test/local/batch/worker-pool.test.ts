// The local batch run's scorers: how many workers an input gets, and a model that cannot load named
// the same way by the calling thread and by a worker.
import assert from 'node:assert/strict';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadManifest, resolveManifestPath } from '../../../lambdas/core/manifest/load';
import { BYTES_PER_WORKER, poolSizeFor, ScoreWorkerPool } from '../../../local/batch/worker-pool';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-pool-');

describe('score pool', () => {
  it('starts a worker per BYTES_PER_WORKER of input, up to all cores but the calling thread', () => {
    assert.deepEqual(poolSizeFor(2, 26_000_000), { workers: 0, callingThread: true }, 'a 100k-row file: this thread alone');
    assert.deepEqual(poolSizeFor(2, BYTES_PER_WORKER), { workers: 1, callingThread: true });
    assert.deepEqual(poolSizeFor(2, 300_000_000), { workers: 1, callingThread: true }, 'two cores: one worker at most');
    assert.deepEqual(poolSizeFor(16, 300_000_000), { workers: Math.floor(300_000_000 / BYTES_PER_WORKER), callingThread: true });
    assert.deepEqual(poolSizeFor(16, 10e9), { workers: 15, callingThread: true });
    assert.deepEqual(poolSizeFor(1, 10e9), { workers: 0, callingThread: true }, 'one core: this thread alone');
  });

  for (const size of [{ workers: 0, callingThread: true }, { workers: 1, callingThread: false }] as const) {
    it(`names the model that cannot load (${size.workers ? 'a worker' : 'the calling thread'})`, async () => {
      const loaded = loadManifest(resolveManifestPath(undefined));
      const model = loaded.models.find((m) => m.entry.name === 'breast-cancer')!;
      const dir = join(tempDir(), '1');
      cpSync(model.dir, dir, { recursive: true });
      writeFileSync(join(dir, 'model.onnx'), 'not a model');
      const pool = new ScoreWorkerPool({ modelDir: dir, card: model.card, bucket: 'b', mounts: [] }, size);
      try {
        await assert.rejects(pool.ready(), (error: Error) => error.message.startsWith(`the model in ${dir} failed to load: ${join(dir, 'model.onnx')}: onnxruntime cannot load the model: `));
      } finally {
        await pool.close();
      }
    });
  }
});
