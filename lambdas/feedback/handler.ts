// The feedback function's handler (issue 17.2), thin over lambdas/core/quality/feedback: API Gateway's proxy event
// for POST /v1/models/<name>/feedback in, the route's answer out. Labels a request brings are checked whole
// (a 400 keeps nothing), then:
// 1. each (model, id, index) is claimed in the ledger table with a conditional PutItem (attribute_not_exists):
//    one already there is a duplicate;
// 2. ALL the request's labels, duplicates included, are written as one JSONL object
//    ground-truth/<model>/<yyyy>/<MM>/<dd>/<HH>/<requestId>.jsonl (the bucket's default SSE-KMS); its PutObject
//    returning is "durably stored", and only then is the 202 sent.
// The joiner keeps the first label of each (id, index), so writing duplicates changes nothing, and a client
// retrying after a failed write (its labels claimed, not stored) loses nothing: the retry is counted as
// duplicates but its labels are written.
import type { Logger } from '@aws-lambda-powertools/logger';
import pMap from 'p-map';
import { ConditionalCheckFailedException, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { LabelRecord } from '../core/quality/contracts';
import { answerFeedback, type LabelSink } from '../core/quality/feedback/feedback-api';
import { feedbackObjectKey } from '../core/quality/feedback/label-keys';
import { labelLine, type FeedbackTarget } from '../core/quality/feedback/validate';
import { errorBody, NotFoundError } from '../core/serving/errors';
import { RouteTable } from '../core/serving/routes';
import type { FeedbackConfig } from './config';

/** Conditional puts in flight at once: a 1,000-label request is 1,000 PutItems. */
const LEDGER_CONCURRENCY = 50;

export interface FeedbackDependencies {
  readonly config: FeedbackConfig;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly logger: Logger;
}

/** The ledger's partition key of one labelled instance. */
export function ledgerKey(model: string, id: string, index: number): string {
  return `${model}#${id}#${index}`;
}

export function createFeedbackHandler(deps: FeedbackDependencies): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const { config, s3, dynamodb, logger } = deps;
  const targets = new Map<string, FeedbackTarget>(config.targets.map((t) => [t.model, t]));
  const routes = new RouteTable([...targets.keys()]);
  const ttlSeconds = config.ledgerTtlDays * 86_400;

  /** Claims each label's (model, id, index); those already claimed are duplicates. */
  async function claim(model: string, labels: readonly LabelRecord[], receivedAt: Date): Promise<number> {
    const expiresAt = String(Math.floor(receivedAt.getTime() / 1000) + ttlSeconds);
    let duplicates = 0;
    await pMap(
      labels,
      async (label) => {
        try {
          await dynamodb.send(
            new PutItemCommand({
              TableName: config.table,
              Item: { pk: { S: ledgerKey(model, label.id, label.index) }, receivedAt: { S: label.time }, expiresAt: { N: expiresAt } },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          );
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
          duplicates++;
        }
      },
      { concurrency: LEDGER_CONCURRENCY },
    );
    return duplicates;
  }

  return async (event) => {
    const requestId = event.requestContext?.requestId ?? `${Date.now()}`;
    // The resource is the route's own path (one API Gateway resource per model), with no stage or base path.
    const match = routes.match(event.httpMethod, event.resource ?? event.path);
    const target = match.found === 'route' && match.route.kind === 'feedback' ? targets.get(match.route.model) : undefined;
    if (!target) {
      const error = new NotFoundError(`no feedback route ${event.httpMethod} ${String(event.resource ?? event.path).slice(0, 200)}`);
      return { statusCode: error.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(errorBody(error)) };
    }
    const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const sink: LabelSink = {
      store: async (model, labels, receivedAt) => {
        const duplicates = await claim(model, labels, receivedAt);
        const body = `${labels.map(labelLine).join('\n')}\n`;
        await s3.send(new PutObjectCommand({ Bucket: config.bucket, Key: feedbackObjectKey(model, receivedAt, requestId), Body: body, ContentType: 'application/x-ndjson' }));
        return { duplicates };
      },
    };
    const answer = await answerFeedback({ method: event.httpMethod, contentType: headers['content-type'], body: event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body }, target, sink, {
      maxBodyBytes: config.maxBodyBytes,
      onError: (error) => logger.error('labels not stored', { error: error as Error, model: target.model, requestId }),
    });
    if (answer.statusCode === 202) logger.info('labels stored', { model: target.model, requestId, ...(JSON.parse(answer.body) as object) });
    return answer;
  };
}
