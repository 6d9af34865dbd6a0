// The feedback function's handler with REAL AWS SDK v3 clients (S3, DynamoDB) against a small stand-in on
// 127.0.0.1 that answers S3 PutObject (path style) and DynamoDB PutItem with its condition attribute_not_exists,
// as the services do (ConditionalCheckFailedException for a key already there). What is checked is what a person
// would look at: the 202's counts, the object written (its key and lines), the ledger's items, the 400 that
// writes nothing, the 500 after which a retry stores the labels.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { readFeedbackConfig } from '../../../lambdas/feedback/config';
import { createFeedbackHandler, ledgerKey } from '../../../lambdas/feedback/handler';
import { ConfigError } from '../../../lambdas/core/common/config-error';

interface LedgerItem {
  readonly pk: { S: string };
  readonly receivedAt: { S: string };
  readonly expiresAt: { N: string };
}

/** S3 PutObject and DynamoDB PutItem, recorded; either can be told to fail. */
class StandIn {
  readonly objects = new Map<string, { body: string; contentType: string | undefined }>();
  readonly ledger = new Map<string, LedgerItem>();
  failPuts = 0;
  private readonly server = createServer((req, res) => void this.answer(req, res));
  url = '';

  async start(): Promise<void> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const target = req.headers['x-amz-target'];
    if (target === 'DynamoDB_20120810.PutItem') {
      const input = JSON.parse(body) as { TableName: string; Item: LedgerItem; ConditionExpression?: string };
      assert.equal(input.TableName, 'shop-test-feedback-ledger');
      assert.equal(input.ConditionExpression, 'attribute_not_exists(pk)');
      const json = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(payload));
      };
      if (this.ledger.has(input.Item.pk.S)) return json(400, { __type: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException', message: 'The conditional request failed' });
      this.ledger.set(input.Item.pk.S, input.Item);
      return json(200, {});
    }
    if (req.method === 'PUT') {
      if (this.failPuts > 0) {
        this.failPuts--;
        res.writeHead(500, { 'content-type': 'application/xml' });
        return void res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>');
      }
      this.objects.set(decodeURIComponent(req.url!.split('?')[0]!), { body, contentType: req.headers['content-type'] });
      res.writeHead(200, { etag: '"0"' });
      return void res.end();
    }
    res.writeHead(400);
    res.end(`unexpected ${req.method} ${req.url}`);
  }
}

const standIn = new StandIn();
const ENV = {
  CAPTURE_BUCKET: 'shop-test-capture',
  LEDGER_TABLE: 'shop-test-feedback-ledger',
  FEEDBACK_MODELS: JSON.stringify([
    { model: 'breast-cancer', task: 'binary', labels: ['malignant', 'benign'], maxBatchSize: 64 },
    { model: 'prices', task: 'regression', labels: [] },
  ]),
  MAX_BODY_BYTES: '1048576',
  LEDGER_TTL_DAYS: '30',
};
let handler: ReturnType<typeof createFeedbackHandler>;

before(async () => {
  await standIn.start();
  const settings = { endpoint: standIn.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }, maxAttempts: 1 };
  handler = createFeedbackHandler({
    config: readFeedbackConfig(ENV),
    s3: new S3Client({ ...settings, forcePathStyle: true }),
    dynamodb: new DynamoDBClient(settings),
    logger: new Logger({ logLevel: 'SILENT' }),
  });
});
after(() => standIn.close());
beforeEach(() => {
  standIn.objects.clear();
  standIn.ledger.clear();
});

function event(model: string, body: unknown, requestId: string, method = 'POST'): APIGatewayProxyEvent {
  const resource = `/v1/models/${model}/feedback`;
  return {
    resource,
    path: resource,
    httpMethod: method,
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { requestId, requestTimeEpoch: Date.now() },
  } as unknown as APIGatewayProxyEvent;
}

describe('feedback handler (real SDK clients, local stand-ins)', () => {
  it('claims every label in the ledger, writes them all as one JSONL object in the hour folder, and answers 202 with the counts', async () => {
    const answer = await handler(event('breast-cancer', { feedback: [{ id: 'p1', label: 'benign' }, { id: 'p1', index: 1, label: 'malignant' }, { id: 'p1', label: 'malignant' }] }, 'req-1'));
    assert.equal(answer.statusCode, 202);
    assert.deepEqual(JSON.parse(answer.body), { accepted: 2, duplicates: 1 });
    assert.equal(answer.headers!['x-model-name'], 'breast-cancer');
    const [[key, object]] = [...standIn.objects];
    assert.match(key!, /^\/shop-test-capture\/ground-truth\/breast-cancer\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/req-1\.jsonl$/);
    const lines = object!.body.trim().split('\n').map((l) => JSON.parse(l) as { id: string; index: number; label: string; time: string });
    assert.deepEqual(lines.map((l) => [l.id, l.index, l.label]), [['p1', 0, 'benign'], ['p1', 1, 'malignant']]);
    // The hour folder is the hour of the label's time.
    const t = new Date(lines[0]!.time);
    assert.ok(key!.includes(`/${t.getUTCFullYear()}/${String(t.getUTCMonth() + 1).padStart(2, '0')}/${String(t.getUTCDate()).padStart(2, '0')}/${String(t.getUTCHours()).padStart(2, '0')}/`));
    assert.deepEqual([...standIn.ledger.keys()].sort(), [ledgerKey('breast-cancer', 'p1', 0), ledgerKey('breast-cancer', 'p1', 1)]);
    const item = standIn.ledger.get('breast-cancer#p1#0')!;
    assert.equal(Number(item.expiresAt.N), Math.floor(Date.parse(item.receivedAt.S) / 1000) + 30 * 86_400, 'the entry expires after the capture retention');
  });

  it('counts labels claimed by an earlier request as duplicates, and still writes them (the joiner keeps the first)', async () => {
    await handler(event('prices', { feedback: [{ id: 'a', value: 10 }] }, 'req-a'));
    const again = await handler(event('prices', { feedback: [{ id: 'a', value: 11 }, { id: 'b', value: 12.5 }] }, 'req-b'));
    assert.deepEqual(JSON.parse(again.body), { accepted: 1, duplicates: 1 });
    const written = [...standIn.objects].find(([key]) => key.endsWith('/req-b.jsonl'))![1].body;
    assert.deepEqual(written.trim().split('\n').map((l) => (JSON.parse(l) as { value: number }).value), [11, 12.5]);
  });

  it('answers 400 naming the item and field, and neither claims nor writes anything', async () => {
    const answer = await handler(event('breast-cancer', { feedback: [{ id: 'a', label: 'benign' }, { id: 'b', index: 64, label: 'benign' }] }, 'req-bad'));
    assert.equal(answer.statusCode, 400);
    assert.match(JSON.parse(answer.body).error.message as string, /^feedback\[1\]\.index: 64 is past the last instance/);
    assert.equal(standIn.ledger.size, 0);
    assert.equal(standIn.objects.size, 0);
  });

  it('answers 500 when the object cannot be written; the retry is counted as duplicates but its labels are written', async () => {
    standIn.failPuts = 1;
    const body = { feedback: [{ id: 'r', label: 'benign' }] };
    const failed = await handler(event('breast-cancer', body, 'req-fail'));
    assert.equal(failed.statusCode, 500);
    assert.equal(JSON.parse(failed.body).error.code, 'internal_error');
    assert.equal(standIn.objects.size, 0);
    const retried = await handler(event('breast-cancer', body, 'req-retry'));
    assert.deepEqual([retried.statusCode, JSON.parse(retried.body)], [202, { accepted: 0, duplicates: 1 }]);
    assert.equal(standIn.objects.size, 1);
  });

  it('answers 404 for a model it does not serve and 405 for a method other than POST', async () => {
    const unknown = await handler(event('iris', { feedback: [] }, 'req-x'));
    assert.equal(unknown.statusCode, 404);
    const get = await handler(event('breast-cancer', '', 'req-y', 'GET'));
    assert.equal(get.statusCode, 404, 'API Gateway answers GET itself (405); an event for it names no feedback route here');
  });
});

describe('readFeedbackConfig', () => {
  it('reads the settings, and names a missing or wrong one', () => {
    const config = readFeedbackConfig(ENV);
    assert.deepEqual(config.targets[0], { model: 'breast-cancer', task: 'binary', labels: ['malignant', 'benign'], maxBatchSize: 64 });
    assert.equal(config.ledgerTtlDays, 30);
    assert.throws(() => readFeedbackConfig({ ...ENV, LEDGER_TABLE: undefined }), (e: Error) => e instanceof ConfigError && /LEDGER_TABLE/.test(e.message));
    assert.throws(() => readFeedbackConfig({ ...ENV, FEEDBACK_MODELS: '{' }), /FEEDBACK_MODELS is not JSON/);
    assert.throws(() => readFeedbackConfig({ ...ENV, FEEDBACK_MODELS: '[]' }), /FEEDBACK_MODELS/);
  });
});
