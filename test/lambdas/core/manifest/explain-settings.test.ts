import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainTimeoutMs, manifestSchema } from '../../../../lambdas/core/manifest/schema';

const parse = (model: Record<string, unknown>) => manifestSchema.safeParse({ models: [{ name: 'iris', version: 1, ...model }] });

describe('manifest models[i].explain', () => {
  it('defaults: 16 instances, 65536 rows per explained row, a deadline of half the function timeout up to 5 s', () => {
    const parsed = parse({});
    assert.ok(parsed.success);
    const entry = parsed.data.models[0]!;
    assert.deepEqual(entry.explain, { maxInstances: 16, maxEvaluations: 65_536 });
    assert.equal(explainTimeoutMs(entry), 5000);
    const quick = parse({ lambda: { timeoutSeconds: 3 } });
    assert.ok(quick.success);
    assert.equal(explainTimeoutMs(quick.data.models[0]!), 1500);
    const own = parse({ explain: { timeoutMs: 8000 }, lambda: { timeoutSeconds: 9 } });
    assert.ok(own.success);
    assert.equal(explainTimeoutMs(own.data.models[0]!), 8000);
  });

  it('refuses a deadline not below the function timeout, naming its path', () => {
    const parsed = parse({ explain: { timeoutMs: 10_000 } });
    assert.equal(parsed.success, false);
    const issue = parsed.error.issues.find((i) => i.path.join('.') === 'models.0.explain.timeoutMs');
    assert.ok(issue, JSON.stringify(parsed.error.issues));
    assert.equal(issue.message, "must be below the function's timeout (lambda.timeoutSeconds = 10 s), received 10000");
  });

  it('refuses more than 256 instances, no instance, and unknown fields', () => {
    for (const explain of [{ maxInstances: 257 }, { maxInstances: 0 }, { maxEvaluations: 0 }, { topK: 3 }]) {
      const parsed = parse({ explain });
      assert.equal(parsed.success, false, JSON.stringify(explain));
      assert.ok(parsed.error.issues.some((i) => i.path.slice(0, 3).join('.') === 'models.0.explain'), JSON.stringify(parsed.error.issues));
    }
  });
});
