// Inference ids: made ones are unique, URL-safe and 128 bits; a caller's is taken when it is 1 to 128 visible
// ASCII characters, and refused otherwise with a 400 `invalid_inference_id` naming where it came from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INFERENCE_ID_PATTERN } from '../../../../../lambdas/core/quality/contracts';
import { checkInferenceId, INFERENCE_ID_FIELDS, InvalidInferenceIdError, newInferenceId } from '../../../../../lambdas/core/quality/predictions/inference-id';

describe('newInferenceId', () => {
  it('makes 100,000 different ids, each 22 base64url characters holding 16 bytes', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const id = newInferenceId();
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      seen.add(id);
    }
    assert.equal(seen.size, 100_000);
    const one = newInferenceId();
    assert.equal(Buffer.from(one, 'base64url').length, 16);
    assert.equal(encodeURIComponent(one), one, 'nothing to escape in a URL');
    assert.match(one, INFERENCE_ID_PATTERN, 'a made id is a valid caller id too');
  });

  it('uses the whole alphabet, evenly: every one of the 64 characters in the first 21 places of 20,000 ids (expected ~6,500 each)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) for (const c of newInferenceId().slice(0, 21)) counts.set(c, (counts.get(c) ?? 0) + 1);
    assert.equal(counts.size, 64);
    const expected = (20_000 * 21) / 64;
    // 6 standard deviations of a binomial count: fails only if the bytes are not random.
    const sd = Math.sqrt(expected * (1 - 1 / 64));
    for (const [c, n] of counts) assert.ok(Math.abs(n - expected) < 6 * sd, `${c}: ${n}, expected ${expected.toFixed(0)} +- ${(6 * sd).toFixed(0)}`);
  });
});

describe('checkInferenceId', () => {
  it("takes a caller's id of 1 to 128 visible ASCII characters as it is", () => {
    for (const id of ['a', 'order-123/line:4', 'x'.repeat(128), '!~"{}', 'ZXhhbXBsZQ==']) assert.equal(checkInferenceId(id, INFERENCE_ID_FIELDS.header), id);
  });

  it('refuses an empty, too long, spaced, control or non-ASCII id with a 400 naming the header or the body id', () => {
    const cases: [string, RegExp][] = [
      ['', /received an empty value/],
      ['x'.repeat(129), /received 129 characters/],
      ['two words', /received "two words"/],
      ['tab\there', /received "tab\\there"/],
      ['café', /received "café"/],
      ['a, b', /received "a, b"/],
    ];
    for (const [id, detail] of cases) {
      for (const field of Object.values(INFERENCE_ID_FIELDS)) {
        assert.throws(
          () => checkInferenceId(id, field),
          (error: unknown) => {
            assert.ok(error instanceof InvalidInferenceIdError);
            assert.equal(error.status, 400);
            assert.equal(error.code, 'invalid_inference_id');
            assert.ok(error.message.startsWith(`${field} must be 1 to 128 visible ASCII characters`), error.message);
            assert.match(error.message, detail);
            return true;
          },
        );
      }
    }
    assert.equal(INFERENCE_ID_FIELDS.header, 'the x-inference-id header');
    assert.equal(INFERENCE_ID_FIELDS.body, "the request body's id");
  });
});
