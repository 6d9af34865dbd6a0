import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { feedbackRoute, modelRoutes, RouteTable, SERVER_ROUTES } from '../../../../lambdas/core/serving/routes';

describe('RouteTable', () => {
  const table = new RouteTable(['breast-cancer', 'digits']);

  it('has the server routes, six model routes and the feedback route per model', () => {
    assert.equal(table.routes.length, SERVER_ROUTES.length + 2 * (modelRoutes('x').length + 1));
    assert.deepEqual(feedbackRoute('digits'), { kind: 'feedback', model: 'digits', method: 'POST', path: '/v1/models/digits/feedback' });
    assert.deepEqual(
      modelRoutes('digits').map((r) => `${r.method} ${r.path}`),
      ['GET /v2/models/digits', 'GET /v2/models/digits/ready', 'POST /v2/models/digits/infer', 'GET /v1/models/digits', 'POST /v1/models/digits:predict', 'POST /v1/models/digits:explain'],
    );
  });

  it('matches exact routes, with or without a trailing slash', () => {
    const match = table.match('POST', '/v1/models/breast-cancer:predict');
    assert.ok(match.found === 'route' && match.route.kind === 'model' && match.route.operation === 'predict' && match.route.model === 'breast-cancer');
    const feedback = table.match('POST', '/v1/models/digits/feedback/');
    assert.ok(feedback.found === 'route' && feedback.route.kind === 'feedback' && feedback.route.model === 'digits');
    const live = table.match('GET', '/v2/health/live/');
    assert.ok(live.found === 'route' && live.route.kind === 'server' && live.route.operation === 'live');
  });

  it('tells a wrong method from an unknown path, with the allowed methods; HEAD is not GET', () => {
    assert.deepEqual(table.match('GET', '/v2/models/digits/infer'), { found: 'wrong-method', allowed: ['POST'] });
    assert.deepEqual(table.match('HEAD', '/v2/models/digits'), { found: 'wrong-method', allowed: ['GET'] });
    assert.deepEqual(table.match('GET', '/v3/anything'), { found: 'none' });
    assert.deepEqual(table.match('GET', '/v1/models/digits/feedback'), { found: 'wrong-method', allowed: ['POST'] });
  });

  it('recognises model-shaped paths of unknown models, as the cloud API does', () => {
    assert.deepEqual(table.match('POST', '/v2/models/iris/infer'), { found: 'unknown-model', model: 'iris' });
    assert.deepEqual(table.match('POST', '/v1/models/iris:predict'), { found: 'unknown-model', model: 'iris' });
    assert.deepEqual(table.match('POST', '/v1/models/iris/feedback'), { found: 'unknown-model', model: 'iris' });
    assert.deepEqual(table.match('POST', '/v1/models/iris:explain'), { found: 'unknown-model', model: 'iris' });
    assert.deepEqual(table.match('GET', '/v1/models/digits:explain'), { found: 'wrong-method', allowed: ['POST'] });
    assert.deepEqual(table.match('POST', '/v1/models/iris/other'), { found: 'none' });
    assert.deepEqual(table.match('GET', '/v1/models/digits:other'), { found: 'unknown-model', model: 'digits:other' });
    assert.deepEqual(table.match('GET', '/v2/models/%E0%A4%A'), { found: 'unknown-model', model: '%E0%A4%A' });
  });
});
