// The local API key: where it is read from (a file or MLSHIP_API_KEY, not both), what a valid key is, and
// the check of the x-api-key header (missing, wrong, repeated, right), with messages that never hold the key.
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ApiKeyCheck, ApiKeyError, loadApiKey, OPEN_PATHS } from '../../../local/security/api-key';
import { tempDirMaker } from '../../fixtures/temp-dirs';

const tempDir = tempDirMaker('mlship-api-key-');
const KEY = 'k3y-0123456789abcdefghij';

describe('ApiKeyCheck', () => {
  const check = new ApiKeyCheck(KEY);

  it('passes the key and nothing else', () => {
    assert.equal(check.check(KEY), undefined);
    for (const wrong of [`${KEY}x`, KEY.slice(0, -1), KEY.toUpperCase(), ` ${KEY}`, 'xyzzy-short', `${KEY}, ${KEY}`]) {
      const error = check.check(wrong);
      assert.ok(error, `refused: '${wrong}'`);
      assert.equal(error.status, 403);
      assert.equal(error.code, 'forbidden');
      assert.match(error.message, /not valid/);
      assert.ok(!error.message.includes(KEY) && !error.message.includes(wrong), 'the message echoes neither key');
    }
  });

  it('says a key is required when the header is missing or empty, and refuses a repeated header', () => {
    for (const missing of [undefined, '']) assert.match(check.check(missing)?.message ?? '', /requires an API key: send it in the x-api-key header/);
    assert.match(check.check([KEY, KEY])?.message ?? '', /not valid/);
  });

  it('leaves only the two health routes open', () => {
    assert.deepEqual([...OPEN_PATHS].filter((p) => !p.endsWith('/')), ['/v2/health/live', '/v2/health/ready']);
  });
});

describe('loadApiKey', () => {
  it('reads nothing when neither source is set', () => {
    assert.equal(loadApiKey({ env: {} }), undefined);
  });

  it('reads MLSHIP_API_KEY, and refuses it set but empty or too short, without showing it', () => {
    assert.deepEqual(loadApiKey({ env: { MLSHIP_API_KEY: KEY } }), { key: KEY, from: 'MLSHIP_API_KEY' });
    assert.throws(() => loadApiKey({ env: { MLSHIP_API_KEY: '' } }), /MLSHIP_API_KEY must be 20 to 128 characters, received 0/);
    assert.throws(() => loadApiKey({ env: { MLSHIP_API_KEY: 'short-key' } }), (error: Error) => error instanceof ApiKeyError && /received 9/.test(error.message) && !error.message.includes('short-key'));
    assert.throws(() => loadApiKey({ env: { MLSHIP_API_KEY: 'a key with spaces in it!' } }), /printable ASCII without spaces/);
  });

  it('reads the file without its trailing newline, and warns when others can read it', () => {
    const file = join(tempDir(), 'key');
    writeFileSync(file, `${KEY}\n`);
    chmodSync(file, 0o600);
    assert.deepEqual(loadApiKey({ file, env: {} }), { key: KEY, from: file });
    chmodSync(file, 0o644);
    assert.match(loadApiKey({ file, env: {} })?.warning ?? '', /readable by other users \(mode 644\); chmod 600 it/);
  });

  it('refuses a missing file naming it, an empty file, and both sources at once', () => {
    const dir = tempDir();
    assert.throws(() => loadApiKey({ file: join(dir, 'nope'), env: {} }), /cannot read the API key file .*nope: ENOENT/);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    assert.throws(() => loadApiKey({ file: empty, env: {} }), /the API key in .*empty must be 20 to 128 characters, received 0/);
    assert.throws(() => loadApiKey({ file: empty, env: { MLSHIP_API_KEY: KEY } }), /--api-key-file or MLSHIP_API_KEY, not both/);
  });
});
