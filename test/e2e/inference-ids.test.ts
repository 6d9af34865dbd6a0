// Inference ids through the real local gateway, spoken to by another HTTP client (Python's http.client): a
// caller's own x-inference-id comes back, a made one is URL-safe, a bad one is a 400 naming the header, and
// every answered prediction lands in <state>/capture/predictions/ under its id, instance by instance, while only
// about capturePercent (10%) of the requests are captured with their features, each naming its id.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadManifest, resolveManifestPath } from '../../lambdas/core/manifest/load';
import { parseLambdaCaptures } from '../../lambdas/core/monitoring/capture/capture-parse';
import { parsePredictionLine, type PredictionBatch } from '../../lambdas/core/quality/predictions/prediction-record';
import { LocalGateway } from '../../local/serving/gateway';
import { tempDirMaker } from '../fixtures/temp-dirs';

const stateDir = tempDirMaker('mlship-ids-');

/** Every line of every file under `folder`, recursively ([] when it does not exist). */
function linesUnder(folder: string): string[] {
  let entries;
  try {
    entries = readdirSync(folder, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isFile()).flatMap((e) => readFileSync(join(e.parentPath, e.name), 'utf8').split('\n').filter((l) => l !== ''));
}

interface Sent {
  kind: 'v1' | 'v2' | 'bad-id' | 'bad-input';
  sent?: string;
  instances: number;
  status: number;
  id: string;
  bodyId?: string;
  labels?: string[];
}

// The client: 240 requests on one keep-alive connection: v1 with and without its own id (1 to 5 instances),
// v2 with a body id, a bad id, a bad input; one JSON line per answer.
const CLIENT = `
import http.client, json, sys
port = int(sys.argv[1]); row = json.loads(sys.argv[2])
conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
def send(path, body, headers):
    conn.request('POST', path, body=json.dumps(body), headers={'content-type': 'application/json', **headers})
    r = conn.getresponse()
    return r.status, r.getheader('x-inference-id'), json.loads(r.read())
for i in range(240):
    n = 1 + i % 5
    kind = ['v1', 'v1-own', 'v2', 'bad-id', 'bad-input', 'v1', 'v1-own', 'v2'][i % 8]
    out = {'kind': kind, 'instances': n}
    if kind in ('v1', 'v1-own'):
        headers = {'x-inference-id': 'client-%d' % i} if kind == 'v1-own' else {}
        if headers: out['sent'] = headers['x-inference-id']
        status, rid, body = send('/v1/models/breast-cancer:predict', {'instances': [row] * n}, headers)
        if status == 200: out['labels'] = [p['label'] for p in body['predictions']]
        out['kind'] = 'v1'
    elif kind == 'v2':
        status, rid, body = send('/v2/models/breast-cancer/infer', {'id': 'v2-%d' % i, 'inputs': [{'name': 'input', 'shape': [n, len(row)], 'datatype': 'FP32', 'data': row * n}]}, {})
        out['sent'] = 'v2-%d' % i; out['bodyId'] = body.get('id')
        if status == 200: out['labels'] = body['outputs'][0]['data']
    elif kind == 'bad-id':
        out['sent'] = 'has a space'
        status, rid, body = send('/v1/models/breast-cancer:predict', {'instances': [row] * n}, {'x-inference-id': 'has a space'})
        out['error'] = body['error']
    else:
        status, rid, body = send('/v1/models/breast-cancer:predict', {'instances': [[1, 2]]}, {'x-inference-id': 'bad-input-%d' % i})
        out['sent'] = 'bad-input-%d' % i
    out['status'] = status; out['id'] = rid
    print(json.dumps(out))
conn.close()
`;

describe('inference ids through the local gateway, from a Python client', () => {
  const manifest = loadManifest(resolveManifestPath(undefined));
  const breastCancer = manifest.models.find((m) => m.entry.name === 'breast-cancer')!;
  const version = String(breastCancer.entry.version);
  const state = stateDir();
  let gateway: LocalGateway;
  let answers: (Sent & { error?: { code: string; message: string } })[];

  before(async () => {
    gateway = await LocalGateway.start({ manifest, port: 0, stateDir: state, alerts: { emit: () => undefined }, capturePercent: 10, monitorIntervalMs: 3_600_000 });
    const port = new URL(gateway.url).port;
    const output = await new Promise<string>((resolve, reject) =>
      execFile('python3', ['-c', CLIENT, port, JSON.stringify(breastCancer.card.golden[0]!.input)], { timeout: 120_000 }, (error, stdout, stderr) => (error ? reject(new Error(`python3 failed: ${error.message}\n${stderr}`)) : resolve(stdout))),
    );
    answers = output.trim().split('\n').map((line) => JSON.parse(line) as Sent);
    // Wait on the files by flushing the sink: everything recorded so far is then on disk.
    await gateway.captureSink!.flush();
  });
  after(() => gateway.close());

  it("answers each request with its id: the caller's header or v2 body id back, a made URL-safe one otherwise, a 400 naming the header for a bad one", () => {
    assert.equal(answers.length, 240);
    for (const a of answers) {
      if (a.kind === 'bad-id') {
        assert.equal(a.status, 400);
        assert.equal(a.error!.code, 'invalid_inference_id');
        assert.match(a.error!.message, /^the x-inference-id header must be 1 to 128 visible ASCII characters/);
        assert.match(a.id, /^[A-Za-z0-9_-]{22}$/, 'a new id the caller can quote');
      } else if (a.kind === 'bad-input') {
        assert.equal(a.status, 400);
        assert.equal(a.id, a.sent, "the caller's id on an error answer too");
      } else {
        assert.equal(a.status, 200);
        if (a.sent !== undefined) assert.equal(a.id, a.sent);
        else assert.match(a.id, /^[A-Za-z0-9_-]{22}$/);
        if (a.kind === 'v2') assert.equal(a.bodyId, a.id, "the v2 answer's id");
      }
    }
    assert.equal(new Set(answers.map((a) => a.id)).size, 240, 'no two answers share an id');
  });

  it('records every answered prediction under its id with its instances in order, none of the refused ones; captures about 10%, each naming its id', () => {
    const batches: PredictionBatch[] = linesUnder(join(state, 'capture', 'predictions', 'model=breast-cancer', `version=${version}`)).map(parsePredictionLine);
    const answered = answers.filter((a) => a.status === 200);
    assert.equal(batches.length, answered.length, 'one line per request (every request is small)');
    const byId = new Map(batches.map((b) => [b.id, b]));
    for (const a of answered) {
      const b = byId.get(a.id);
      assert.ok(b, `request ${a.id} recorded`);
      assert.deepEqual([b.model, b.version, b.first, b.count], ['breast-cancer', version, 0, a.instances]);
      assert.deepEqual([...b.predicted!].map((c) => b.classes![c]), a.labels, 'the labels the caller got');
      assert.equal(b.probabilities!.length, a.instances * 2);
    }
    for (const a of answers.filter((x) => x.status !== 200)) assert.equal(byId.has(a.id), false, `refused request ${a.id} not recorded`);

    const captured = parseLambdaCaptures(linesUnder(join(state, 'capture', 'lambda', 'model=breast-cancer')).join('\n'), breastCancer.card);
    assert.equal(captured.rejected, 0);
    // 10% of 150 answered requests: 15 expected (sd 3.7); none (p = 0.9^150, 1e-7) or 40 and more would mean the share is not applied.
    assert.ok(captured.batches.length >= 1 && captured.batches.length < 40, `${captured.batches.length} of ${answered.length} captured`);
    for (const c of captured.batches) {
      const b = byId.get(c.id!);
      assert.ok(b, `captured request ${c.id} has its prediction`);
      assert.deepEqual([c.first, c.count], [0, b.count]);
    }
  });
});
