// Hostile and malformed HTTP requests for the local gateway, as raw bytes, from a seeded generator: request i
// of seed s is always the same bytes (its own generator, seeded from s and i), so a failure is replayed with
// `npm run fuzz -- --seed s --only i`. Kinds: random JSON, deep nesting, huge numbers, wrong types, long
// strings, invalid UTF-8, truncated bodies, content-type and content-length trouble (mismatch, repeats),
// chunked bodies (good and bad), unknown methods, odd paths (encoded slashes, dot segments, long URLs, query
// strings), v1 and v2 bodies of wrong shapes, the local SageMaker endpoint, the status page, and some valid
// requests among them, to every route of every model.
// Over 400 lines: one generator per kind of hostile request, seeded, in one table.

/** The small deterministic generator (sfc32): fast, and good enough to pick cases. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = 0x9e3779b9;
    this.b = seed >>> 0;
    this.c = (stream * 0x85ebca6b) >>> 0;
    this.d = (seed ^ 0xdeadbeef) >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** [0, 2^32) */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** [0, n) */
  int(n: number): number {
    return Math.floor((this.next() / 4294967296) * n);
  }

  chance(p: number): boolean {
    return this.next() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  float(): number {
    return this.next() / 4294967296;
  }
}

/** What the generator needs to know of a served model. */
export interface FuzzModel {
  readonly name: string;
  readonly version: number;
  readonly tensorName: string;
  readonly features: readonly string[];
  readonly image?: { readonly height: number; readonly width: number };
  readonly maxBatchSize: number;
  /** A valid instance (a golden input). */
  readonly sample: readonly number[];
}

export interface FuzzContext {
  readonly models: readonly FuzzModel[];
  readonly maxBodyBytes: number;
  /** Sent as x-api-key when the gateway wants one (some requests leave it out or send a wrong one on purpose). */
  readonly apiKey?: string;
}

export const KINDS = [
  'valid',
  'random-json',
  'deep-nesting',
  'huge-numbers',
  'wrong-types',
  'long-strings',
  'invalid-utf8',
  'truncated',
  'content-type',
  'content-length',
  'chunked',
  'method',
  'path',
  'v1-shape',
  'v2-shape',
  'endpoint',
  'status-page',
  'headers',
  'pipelined',
] as const;
export type FuzzKind = (typeof KINDS)[number];

export interface FuzzRequest {
  readonly index: number;
  readonly kind: FuzzKind;
  /** One line saying what this request is. */
  readonly what: string;
  /** The bytes, sent in these pieces (a short pause between pieces). */
  readonly parts: readonly Buffer[];
  /**
   * 'answer': the gateway must answer. 'maybe': it may also close without an answer (a body that never
   * completes: the client gives up after a while, as a real one would).
   */
  readonly expect: 'answer' | 'maybe';
  /** The path asked for, for checking the answer's shape. */
  readonly path: string;
  readonly method: string;
  /** For kind 'pipelined': the requests sent one after the other on one keep-alive connection, each to be answered in order. */
  readonly pipeline?: readonly { readonly kind: FuzzKind; readonly path: string; readonly method: string }[];
}

const ROUTE_SUFFIXES = ['', '/ready', '/infer'] as const;

/** Every route path of a model, plus the server routes, the status page, an endpoint and unknown paths. */
function routePaths(ctx: FuzzContext): string[] {
  const paths = ['/v2', '/v2/health/live', '/v2/health/ready', '/', '/status.json', '/v3/nothing', '/v2/models/nosuch/infer', '/v1/models/nosuch:predict'];
  for (const m of ctx.models) {
    for (const suffix of ROUTE_SUFFIXES) paths.push(`/v2/models/${m.name}${suffix}`);
    paths.push(`/v1/models/${m.name}`, `/v1/models/${m.name}:predict`, `/endpoints/${m.name}-v${m.version}/invocations`);
  }
  return paths;
}

function inferPath(m: FuzzModel): string {
  return `/v2/models/${m.name}/infer`;
}
function predictPath(m: FuzzModel): string {
  return `/v1/models/${m.name}:predict`;
}

const HUGE_NUMBERS = ['1e309', '-1e309', '-0', '1e-400', '9007199254740993', '-9007199254740993', '3.4028235e38', '3.5e38', '-3.5e38', '1e39', '4.9e-324', '1.7976931348623157e308', '0.0000000000000000000000000000000000000000000001', '123456789012345678901234567890', '1E+2', '-0.0e-0'];
const NOT_NUMBERS = ['NaN', 'Infinity', '-Infinity', '0x10', '01', '.5', '-', '1e', '+1', '1_000', '1.', '--1', '٣'];

function jsonString(rng: Rng, maxLength = 20): string {
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\u0000', 'é', '☃', '\ud83d\ude00', '\ud800', '<', '>', '&', "'", '{', '[', '%'];
  let s = '';
  const n = rng.int(maxLength);
  for (let i = 0; i < n; i++) s += rng.pick(alphabet);
  return JSON.stringify(s);
}

/** A random JSON text (valid JSON, any shape), bounded in depth and size. */
export function randomJson(rng: Rng, depth = 0): string {
  const roll = rng.int(depth > 4 ? 5 : 8);
  switch (roll) {
    case 0:
      return rng.pick(['null', 'true', 'false']);
    case 1:
      return rng.chance(0.5) ? String(rng.int(1000) - 500) : rng.pick(HUGE_NUMBERS);
    case 2:
      return String((rng.float() - 0.5) * 10 ** rng.int(40));
    case 3:
    case 4:
      return jsonString(rng);
    case 5:
    case 6: {
      const n = rng.int(6);
      return `[${Array.from({ length: n }, () => randomJson(rng, depth + 1)).join(',')}]`;
    }
    default: {
      const n = rng.int(5);
      const keys = ['instances', 'inputs', 'name', 'shape', 'datatype', 'data', 'id', 'outputs', '__proto__', 'constructor', 'toString', 'parameters', ''];
      return `{${Array.from({ length: n }, () => `${rng.chance(0.7) ? JSON.stringify(rng.pick(keys)) : jsonString(rng)}:${randomJson(rng, depth + 1)}`).join(',')}}`;
    }
  }
}

function sampleInstance(rng: Rng, m: FuzzModel): number[] {
  return m.sample.map((v) => (rng.chance(0.2) ? v + rng.float() : v));
}

function validV2(m: FuzzModel, rows: number[][], id?: string): string {
  return JSON.stringify({ ...(id === undefined ? {} : { id }), inputs: [{ name: m.tensorName, shape: [rows.length, m.features.length], datatype: 'FP32', data: rows.flat() }] });
}

interface Body {
  readonly method: string;
  readonly path: string;
  readonly body: Buffer | string | undefined;
  readonly what: string;
  readonly contentType?: string | null;
}

function valid(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const rows = Array.from({ length: 1 + rng.int(4) }, () => sampleInstance(rng, m));
  switch (rng.int(5)) {
    case 0:
      return { method: 'POST', path: predictPath(m), body: JSON.stringify({ instances: rows }), what: `v1 ${rows.length} rows` };
    case 1:
      return { method: 'POST', path: predictPath(m), body: JSON.stringify({ instances: rows.map((r) => Object.fromEntries(m.features.map((f, i) => [f, r[i]]))) }), what: 'v1 keyed by feature' };
    case 2:
      return { method: 'POST', path: inferPath(m), body: validV2(m, rows, rng.chance(0.5) ? `id-${rng.int(1000)}` : undefined), what: `v2 ${rows.length} rows` };
    case 3:
      return { method: 'GET', path: rng.pick([`/v2/models/${m.name}`, `/v2/models/${m.name}/ready`, `/v1/models/${m.name}`, '/v2', '/v2/health/ready']), body: undefined, what: 'metadata' };
    default: {
      const columns = m.features.map((f, i) => ({ name: f, shape: [rows.length], datatype: 'FP64', data: rows.map((r) => r[i]) }));
      return { method: 'POST', path: inferPath(m), body: JSON.stringify({ inputs: columns }), what: 'v2 one input per feature' };
    }
  }
}

function deepNesting(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const depth = rng.pick([100, 1000, 10_000, 100_000, 200_000]);
  const open = rng.chance(0.8) ? '['.repeat(depth) : '{"a":'.repeat(depth);
  const close = open.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(depth);
  const nested = `${open}${rng.chance(0.5) ? '1' : ''}${close}`;
  const shape = rng.int(4);
  const body =
    shape === 0
      ? nested
      : shape === 1
        ? `{"instances":${nested}}`
        : shape === 2
          ? `{"instances":[${nested}]}`
          : `{"inputs":[{"name":"${m.tensorName}","shape":[1,${m.features.length}],"datatype":"FP32","data":${nested}}]}`;
  const path = rng.chance(0.15) ? `/endpoints/${m.name}-v${m.version}/invocations` : shape === 3 ? inferPath(m) : rng.pick([predictPath(m), inferPath(m)]);
  // Unclosed nesting, too: the parser must give up, not the process.
  const truncated = rng.chance(0.2) ? body.slice(0, Math.floor(body.length / 2)) : body;
  return { method: 'POST', path, body: truncated, what: `nesting depth ${depth}${truncated !== body ? ', unclosed' : ''}` };
}

function hugeNumbers(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const values = m.sample.map(String);
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) values[rng.int(values.length)] = rng.chance(0.8) ? rng.pick(HUGE_NUMBERS) : rng.pick(NOT_NUMBERS);
  if (rng.chance(0.1)) values[0] = '1'.repeat(1000 + rng.int(20_000));
  const row = `[${values.join(',')}]`;
  if (rng.chance(0.5)) return { method: 'POST', path: predictPath(m), body: `{"instances":[${row}]}`, what: `v1 with ${values.filter((v) => !/^-?\d{1,3}(\.\d+)?$/.test(v)).slice(0, 3).join(' ')}` };
  const shapeValue = rng.pick(['1', '1e0', '1.0', '9007199254740993', '-1', '1e309', '0', '4294967297']);
  return { method: 'POST', path: inferPath(m), body: `{"inputs":[{"name":"${m.tensorName}","shape":[${shapeValue},${m.features.length}],"datatype":"FP32","data":${row}}]}`, what: `v2 with shape[0] ${shapeValue}` };
}

function wrongTypes(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const odd = () => rng.pick(['"1"', 'true', 'null', '{}', '[]', '[1]', '{"value":1}', '""', '"NaN"', 'false']);
  const v2 = () => {
    const fields: Record<string, string> = { name: JSON.stringify(m.tensorName), shape: `[1,${m.features.length}]`, datatype: '"FP32"', data: `[${m.sample.join(',')}]` };
    const field = rng.pick(Object.keys(fields));
    fields[field] = odd();
    if (rng.chance(0.3)) fields.id = odd();
    if (rng.chance(0.2)) delete fields[rng.pick(Object.keys(fields))];
    return `{"inputs":[{${Object.entries(fields).map(([k, v]) => `"${k}":${v}`).join(',')}}]}`;
  };
  const bodies = [
    () => `{"instances":${odd()}}`,
    () => `{"instances":[${odd()}]}`,
    () => `{"instances":[[${m.sample.map((v, i) => (i === rng.int(m.sample.length) ? odd() : String(v))).join(',')}]]}`,
    () => `{"instances":[{${m.features.map((f, i) => `${JSON.stringify(f)}:${i === 0 ? odd() : m.sample[i]}`).join(',')}}]}`,
    () => `{"inputs":${odd()}}`,
    () => `{"inputs":[${odd()}]}`,
    v2,
    v2,
    () => odd(),
  ];
  const body = rng.pick(bodies)();
  return { method: 'POST', path: body.includes('"inputs"') ? inferPath(m) : rng.pick([predictPath(m), inferPath(m)]), body, what: `wrong type: ${body.slice(0, 80)}` };
}

function longStrings(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const long = 'x'.repeat(rng.pick([1000, 100_000, Math.floor(ctx.maxBodyBytes * 0.9), ctx.maxBodyBytes + 10]));
  const bodies = [
    `{"instances":[{${JSON.stringify(long)}:1}]}`,
    `{"instances":[[${JSON.stringify(long)}]]}`,
    `{"id":${JSON.stringify(long)},"inputs":[{"name":"${m.tensorName}","shape":[1,${m.features.length}],"datatype":"FP32","data":[${m.sample.join(',')}]}]}`,
    `{"inputs":[{"name":${JSON.stringify(long)},"shape":[1],"datatype":"FP32","data":[1]}]}`,
    `{"inputs":[{"name":"${m.tensorName}","shape":[1,${m.features.length}],"datatype":${JSON.stringify(long)},"data":[1]}]}`,
    JSON.stringify(long),
  ];
  const body = rng.pick(bodies);
  return { method: 'POST', path: body.includes('"inputs"') ? inferPath(m) : predictPath(m), body, what: `a string of ${long.length} characters` };
}

const BAD_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), Buffer.from([0xfe, 0xff]), Buffer.from([0x80]), Buffer.from([0xef, 0xbb, 0xbf])];

function invalidUtf8(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const bad = rng.pick(BAD_UTF8);
  const templates: [string, string][] = [
    [`{"instances":[{"`, `":1}]}`],
    [`{"instances":[["`, `"]]}`],
    [`{"id":"`, `","inputs":[{"name":"${m.tensorName}","shape":[1,${m.features.length}],"datatype":"FP32","data":[${m.sample.join(',')}]}]}`],
    [`{"inputs":[{"name":"`, `","shape":[1],"datatype":"FP32","data":[1]}]}`],
    ['', `{"instances":[[${m.sample.join(',')}]]}`],
    [`{"instances":[[${m.sample.join(',')}]]}`, ''],
    ['{"instances"', ':[]}'],
  ];
  const [head, tail] = rng.pick(templates);
  const body = Buffer.concat([Buffer.from(head), bad, Buffer.from(tail)]);
  return { method: 'POST', path: head.includes('inputs') || tail.includes('inputs') ? inferPath(m) : rng.pick([predictPath(m), `/endpoints/${m.name}-v${m.version}/invocations`]), body, what: `bytes ${bad.toString('hex')} in the body` };
}

function v1Shape(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const w = m.features.length;
  const row = (n: number) => `[${Array.from({ length: n }, (_, i) => m.sample[i % w]).join(',')}]`;
  const bodies = [
    () => '{}',
    () => '{"instances":[]}',
    () => `{"instances":[${row(w - 1)}]}`,
    () => `{"instances":[${row(w + 1)}]}`,
    () => `{"instances":[${row(w)},${row(0)}]}`,
    () => `{"instances":${row(w)}}`,
    () => `{"instances":[${Array.from({ length: m.maxBatchSize + 1 }, () => '[1]').join(',')}]}`,
    () => `{"instances":[[${row(w)}]]}`,
    () => `{"instances":[{${m.features.slice(1).map((f) => `${JSON.stringify(f)}:1`).join(',')}}]}`,
    () => `{"instances":[{${m.features.map((f) => `${JSON.stringify(f)}:1`).join(',')},"extra":1}]}`,
    () => `{"instances":[${row(w)}],"inputs":[]}`,
    () => `[{"instances":[${row(w)}]}]`,
    () => `{"predictions":[${row(w)}]}`,
    () => (m.image ? `{"instances":[[${Array.from({ length: m.image.height }, () => row(m.image!.width + rng.int(3) - 1)).join(',')}]]}` : `{"instances":[[${row(w)}]]}`),
    () => (m.image ? `{"instances":[[${Array.from({ length: m.image.height }, () => row(m.image!.width)).join(',')}]]}` : `{"instances":[${row(w)}]}`),
  ];
  const body = rng.pick(bodies)();
  return { method: 'POST', path: predictPath(m), body, what: `v1 shape: ${body.slice(0, 80)}` };
}

function v2Shape(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const w = m.features.length;
  const data = (n: number) => `[${Array.from({ length: n }, (_, i) => m.sample[i % w]).join(',')}]`;
  const input = (shape: string, n: number, name = m.tensorName, datatype = 'FP32') => `{"name":${JSON.stringify(name)},"shape":${shape},"datatype":"${datatype}","data":${data(n)}}`;
  const bodies = [
    () => '{"inputs":[]}',
    () => `{"inputs":[${input(`[1,${w}]`, w - 1)}]}`,
    () => `{"inputs":[${input(`[2,${w}]`, w)}]}`,
    () => `{"inputs":[${input(`[0,${w}]`, 0)}]}`,
    () => `{"inputs":[${input(`[${m.maxBatchSize + 1},${w}]`, w)}]}`,
    () => `{"inputs":[${input(`[1,${w},1]`, w)}]}`,
    () => `{"inputs":[${input(`[${w}]`, w)}]}`,
    () => `{"inputs":[${input('[]', w)}]}`,
    () => `{"inputs":[${input(`[1,1,1,1,1,1,1,1,1,${w}]`, w)}]}`,
    () => `{"inputs":[${input(`[1,${w}]`, w, 'wrong-name')}]}`,
    () => `{"inputs":[${input(`[1,${w}]`, w, m.tensorName, 'BYTES')}]}`,
    () => `{"inputs":[${input(`[1,${w}]`, w)},${input(`[1,${w}]`, w)}]}`,
    () => `{"inputs":[${m.features.slice(0, -1).map((f) => input('[1]', 1, f)).join(',')}]}`,
    () => `{"inputs":[${m.features.map((f, i) => input(i === 0 ? '[2]' : '[1]', 1, f)).join(',')}]}`,
    () => `{"inputs":[${[m.features[0]!, ...m.features.slice(0, -1)].map((f) => input('[1]', 1, f)).join(',')}]}`,
    () => `{"inputs":[{"name":"${m.tensorName}","shape":[1,${w}],"datatype":"FP32","data":[${data(w)}]}]}`,
    () => `{"inputs":[{"name":"${m.tensorName}","shape":[1,${w}],"datatype":"FP32","data":[[[[[[[[[[${m.sample.join(',')}]]]]]]]]]]}]}`,
    () => (m.image ? `{"inputs":[${input(`[1,${m.image.height},${m.image.width}]`, w)}]}` : `{"inputs":[${input(`[1,${w}]`, w)}],"outputs":[{"name":"nope"}]}`),
    () => `{"inputs":[${input(`[1,${w}]`, w)}],"parameters":{"binary_data_output":true}}`,
  ];
  const body = rng.pick(bodies)();
  return { method: 'POST', path: inferPath(m), body, what: `v2 shape: ${body.slice(0, 80)}` };
}

function endpoint(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const w = m.features.length;
  const name = rng.pick([`${m.name}-v${m.version}`, `${m.name}-v${m.version}`, 'nosuch-v1', `${m.name}-v99`, '', '..', '%2e%2e']);
  const bodies = [
    () => `{"inputs":[{"name":"${m.tensorName}","shape":[1,${w}],"datatype":"FP32","data":[${m.sample.join(',')}]}]}`,
    () => `{"inputs":[{"name":"${m.tensorName}","shape":[1,${w}],"datatype":"FP32","data":[${m.sample.join(',')}]}],"outputs":[{"name":${rng.pick(['"probabilities"', '"nope"', '{"toString":1}', 'null'])}}]}`,
    () => `{"inputs":[{"name":{"toString":1},"shape":[1],"datatype":"FP32","data":[1]}]}`,
    () => `{"inputs":[{"name":"${m.tensorName}","shape":[1,${w}],"datatype":{"valueOf":1,"toString":1},"data":[1]}]}`,
    () => `{"inputs":[{"name":"${m.tensorName}","shape":[1e9,${w}],"datatype":"FP32","data":[1]}]}`,
    () => `{"inputs":[{"name":"${m.tensorName}","shape":[1,${w}],"datatype":"FP32","data":[${m.sample.map((v, i) => (i === 0 ? '1e309' : v)).join(',')}]}]}`,
    () => `{"inputs":[{"name":"${m.tensorName}","shape":[1,${w}],"datatype":"FP32","data":${'['.repeat(50_000)}${']'.repeat(50_000)}}]}`,
    () => randomJson(rng),
  ];
  const path = rng.chance(0.9) ? `/endpoints/${name}/invocations` : rng.pick(['/endpoints/', '/endpoints/x', `/endpoints/${name}/invocations/extra`]);
  return { method: rng.chance(0.9) ? 'POST' : rng.pick(['GET', 'PUT', 'DELETE']), path, body: rng.pick(bodies)(), what: `endpoint ${name}`, contentType: rng.pick(['application/json', 'application/vnd.sagemaker-triton.binary+json;json-header-size=10', 'text/csv', null]) };
}

// ---- requests built from raw bytes ----

interface RawOptions {
  readonly method: string;
  readonly target: string;
  readonly headers: readonly [string, string][];
  readonly body?: Buffer;
}

function raw({ method, target, headers, body }: RawOptions): Buffer {
  const head = `${method} ${target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)]);
}

function baseHeaders(ctx: FuzzContext, rng: Rng, keepAlive = false): [string, string][] {
  const headers: [string, string][] = [['Host', '127.0.0.1']];
  if (!keepAlive) headers.push(['Connection', 'close']);
  if (ctx.apiKey !== undefined) {
    // Mostly the right key: the requests should reach the routes; some without or with a wrong one.
    const roll = rng.float();
    if (roll < 0.9) headers.push(['x-api-key', ctx.apiKey]);
    else if (roll < 0.95) headers.push(['x-api-key', `${ctx.apiKey.slice(0, -1)}?`]);
  }
  return headers;
}

function fromBody(b: Body, ctx: FuzzContext, rng: Rng, keepAlive = false): { parts: Buffer[]; method: string; path: string } {
  const body = b.body === undefined ? undefined : Buffer.isBuffer(b.body) ? b.body : Buffer.from(b.body, 'utf8');
  const headers = baseHeaders(ctx, rng, keepAlive);
  if (body !== undefined) {
    if (b.contentType !== null) headers.push(['Content-Type', b.contentType ?? 'application/json']);
    headers.push(['Content-Length', String(body.length)]);
  }
  return { parts: [raw({ method: b.method, target: b.path, headers, ...(body ? { body } : {}) })], method: b.method, path: b.path };
}

function truncated(rng: Rng, ctx: FuzzContext): FuzzRequest['parts'] & { what: string; path: string; expect: FuzzRequest['expect'] } {
  const m = rng.pick(ctx.models);
  const path = rng.pick([predictPath(m), inferPath(m), `/endpoints/${m.name}-v${m.version}/invocations`]);
  const full = Buffer.from(path.includes('predict') ? JSON.stringify({ instances: [m.sample] }) : validV2(m, [m.sample.slice()]));
  const cut = rng.int(full.length);
  const headers = baseHeaders(ctx, rng);
  headers.push(['Content-Type', 'application/json']);
  if (rng.chance(0.5)) {
    // The body declares its full length but stops early: the gateway waits, the client gives up.
    headers.push(['Content-Length', String(full.length)]);
    const parts = Object.assign([raw({ method: 'POST', target: path, headers, body: full.subarray(0, cut) })], { what: `content-length ${full.length}, ${cut} bytes sent, then nothing`, path, expect: 'maybe' as const });
    return parts;
  }
  // A body cut short but declared at its cut length: well-formed HTTP, invalid JSON.
  headers.push(['Content-Length', String(cut)]);
  return Object.assign([raw({ method: 'POST', target: path, headers, body: full.subarray(0, cut) })], { what: `JSON cut at byte ${cut} of ${full.length}`, path, expect: 'answer' as const });
}

function contentType(rng: Rng, ctx: FuzzContext): Body {
  const m = rng.pick(ctx.models);
  const type = rng.pick([null, '', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/json; charset=latin1', 'APPLICATION/JSON', 'application/vnd.api+json', 'application/json;;;', ' application/json', 'json', `application/${'x'.repeat(3000)}`, 'application/json\u0000', 'text/html; charset=utf-8']);
  return { method: 'POST', path: rng.pick([predictPath(m), inferPath(m)]), body: JSON.stringify({ instances: [m.sample] }), what: `content-type ${JSON.stringify(type)?.slice(0, 60)}`, contentType: type?.replace('\u0000', '%00') ?? null };
}

function contentLength(rng: Rng, ctx: FuzzContext): { parts: Buffer[]; what: string; path: string; expect: FuzzRequest['expect'] } {
  const m = rng.pick(ctx.models);
  const path = rng.pick([predictPath(m), inferPath(m), '/v2', '/v2/health/live']);
  const body = Buffer.from(JSON.stringify({ instances: [m.sample] }));
  const headers = baseHeaders(ctx, rng);
  headers.push(['Content-Type', 'application/json']);
  const roll = rng.int(9);
  const values: [string, (string | undefined)[]][] = [
    ['shorter than the body', [String(Math.max(0, body.length - 1 - rng.int(10)))]],
    ['repeated, same value', [String(body.length), String(body.length)]],
    ['repeated, different values', [String(body.length), String(body.length + 1)]],
    ['negative', ['-1']],
    ['not a number', [rng.pick(['abc', '1e3', '0x10', ' ', '1,2', '+5'])]],
    ['huge', [rng.pick(['99999999999999999999', String(ctx.maxBodyBytes + 1), '18446744073709551616'])]],
    ['missing', [undefined]],
    ['zero', ['0']],
    ['with chunked too', [String(body.length)]],
  ];
  const [what, lengths] = values[roll]!;
  for (const l of lengths) if (l !== undefined) headers.push(['Content-Length', l]);
  if (roll === 8) headers.push(['Transfer-Encoding', 'chunked']);
  // 'huge' or 'shorter than the body' with a declared length the body never reaches may wait: the client gives up.
  const expect = roll === 5 && !lengths[0]!.startsWith(String(ctx.maxBodyBytes + 1)) ? 'maybe' : 'answer';
  return { parts: [raw({ method: 'POST', target: path, headers, body })], what: `content-length ${what}`, path, expect };
}

function chunked(rng: Rng, ctx: FuzzContext): { parts: Buffer[]; what: string; path: string; expect: FuzzRequest['expect'] } {
  const m = rng.pick(ctx.models);
  const path = rng.pick([predictPath(m), inferPath(m)]);
  const body = Buffer.from(path.includes('predict') ? JSON.stringify({ instances: [m.sample] }) : validV2(m, [m.sample.slice()]));
  const headers = baseHeaders(ctx, rng);
  headers.push(['Content-Type', 'application/json'], ['Transfer-Encoding', rng.pick(['chunked', 'chunked', 'Chunked', 'gzip, chunked', 'chunked, gzip', 'identity', 'x'])]);
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const size = 1 + rng.int(40);
    const piece = body.subarray(at, at + size);
    at += size;
    const sizeLine = rng.chance(0.03) ? rng.pick(['zz', '-1', 'ffffffffffffffffff', '']) : `${piece.length.toString(16)}${rng.chance(0.05) ? ';ext=1' : ''}`;
    chunks.push(Buffer.concat([Buffer.from(`${sizeLine}\r\n`), piece, Buffer.from('\r\n')]));
  }
  const ended = rng.chance(0.9);
  if (ended) chunks.push(Buffer.from('0\r\n\r\n'));
  const head = raw({ method: 'POST', target: path, headers });
  // Sent in a few writes, split anywhere.
  const all = Buffer.concat([head, ...chunks]);
  const cuts = [0, ...Array.from({ length: rng.int(4) }, () => rng.int(all.length)).sort((a, b) => a - b), all.length];
  const parts = cuts.slice(1).map((end, i) => all.subarray(cuts[i], end)).filter((p) => p.length > 0);
  return { parts, what: `chunked in ${chunks.length} chunks${ended ? '' : ', no last chunk'}`, path, expect: ended ? 'answer' : 'maybe' };
}

function method(rng: Rng, ctx: FuzzContext): { parts: Buffer[]; what: string; path: string; method: string } {
  const path = rng.pick(routePaths(ctx));
  const verb = rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'PROPFIND', 'MKCOL', 'FOO', 'get', 'Post', 'G E T', 'POST'.repeat(50), 'SEARCH', 'QUERY', 'PURGE']);
  const headers = baseHeaders(ctx, rng);
  const body = rng.chance(0.3) ? Buffer.from('{"instances":[[1]]}') : undefined;
  if (body) headers.push(['Content-Type', 'application/json'], ['Content-Length', String(body.length)]);
  const target = verb === 'CONNECT' ? rng.pick(['127.0.0.1:443', path]) : verb === 'OPTIONS' && rng.chance(0.3) ? '*' : path;
  return { parts: [raw({ method: verb, target, headers, ...(body ? { body } : {}) })], what: `method ${verb.slice(0, 20)} ${target}`, path, method: verb };
}

function oddPath(rng: Rng, ctx: FuzzContext): { parts: Buffer[]; what: string; path: string; method: string } {
  const m = rng.pick(ctx.models);
  const targets = [
    `/v2/models/${m.name}%2Finfer`,
    `/v2%2Fmodels%2F${m.name}`,
    `/v2/models/../models/${m.name}/infer`,
    `/v2/models/${m.name}/../../../etc/passwd`,
    `/v2/./models/${m.name}`,
    `//v2/models/${m.name}`,
    `/v2/models/${m.name}/`,
    `/v2/models/${m.name}//infer`,
    `/v2/models/%${m.name}`,
    '/v2/models/%zz/infer',
    '/v2/models/%00/infer',
    '/v2/models/%E0%A4%A/infer',
    `/v2/models/${'a'.repeat(rng.pick([300, 4000, 8000]))}/infer`,
    `/v1/models/${m.name}:predict?${'q=1&'.repeat(rng.pick([10, 1000, 3000]))}`,
    `/v1/models/${m.name}:predict?__proto__=1&constructor=2&toString=3`,
    `/v1/models/${m.name}:predict?a=%zz&b=%00&=&&`,
    `/v1/models/${m.name}:predict#fragment`,
    `/v1/models/${m.name}:PREDICT`,
    `/v1/models/${m.name}::predict`,
    `/v1/models/${m.name.toUpperCase()}:predict`,
    'http://example.com/v2/health/live',
    `/${'x'.repeat(20_000)}`,
    '/v2/health/live?x',
    '/status.json?refresh=1',
    '/v2/models/nosuch%2F..%2F/infer',
    '/endpoints/../v2',
    '/\\v2\\models',
    `/v2/models/${m.name}/infer;jsessionid=1`,
    // Raw bytes that are not ASCII (latin1 here: 0xff 0xfe, and UTF-8 cut short) in the request line.
    `/v2/models/${m.name}\u00ff\u00fe/infer`,
    `/v1/models/\u00e2\u0082:predict`,
  ];
  const target = rng.pick(targets);
  const verb = rng.pick(['GET', 'POST']);
  const headers = baseHeaders(ctx, rng);
  const body = verb === 'POST' ? Buffer.from(JSON.stringify({ instances: [m.sample] })) : undefined;
  if (body) headers.push(['Content-Type', 'application/json'], ['Content-Length', String(body.length)]);
  return { parts: [raw({ method: verb, target, headers, ...(body ? { body } : {}) })], what: `path ${target.slice(0, 100)}`, path: target, method: verb };
}

function statusPage(rng: Rng): Body {
  return { method: rng.pick(['GET', 'HEAD', 'POST', 'DELETE']), path: rng.pick(['/', '/status.json', '/status.json/', '/index.html']), body: rng.chance(0.3) ? randomJson(rng) : undefined, what: 'status page' };
}

function hostileHeaders(rng: Rng, ctx: FuzzContext): { parts: Buffer[]; what: string; path: string; method: string } {
  const m = rng.pick(ctx.models);
  const path = rng.pick([predictPath(m), inferPath(m), '/v2/health/live']);
  const body = Buffer.from(JSON.stringify({ instances: [m.sample] }));
  const headers: [string, string][] = [['Connection', 'close']];
  const cases: [string, () => void][] = [
    ['no Host header', () => undefined],
    ['two Host headers', () => headers.push(['Host', 'a'], ['Host', 'b'])],
    ['a header of 20 KB', () => headers.push(['Host', 'x'], ['X-Big', 'a'.repeat(20_000)])],
    ['300 headers', () => headers.push(['Host', 'x'], ...Array.from({ length: 300 }, (_, i): [string, string] => [`X-H${i}`, String(i)]))],
    ['a header with a bad name', () => headers.push(['Host', 'x'], ['Bad Name', '1'])],
    ['a header value with a control byte', () => headers.push(['Host', 'x'], ['X-Ctl', 'a\u0001b'])],
    ['non-ASCII header bytes', () => headers.push(['Host', 'x'], ['X-Bytes', '\u00ff\u00fe'])],
    ['Expect: 100-continue', () => headers.push(['Host', 'x'], ['Expect', '100-continue'])],
    ['Expect: something else', () => headers.push(['Host', 'x'], ['Expect', 'teapot'])],
    ['Upgrade: websocket', () => headers.push(['Host', 'x'], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'])],
    ['two content-types', () => headers.push(['Host', 'x'], ['Content-Type', 'text/plain'])],
    ['x-api-key repeated', () => headers.push(['Host', 'x'], ['x-api-key', ctx.apiKey ?? 'k'], ['x-api-key', ctx.apiKey ?? 'k'])],
    ['x-api-key huge', () => headers.push(['Host', 'x'], ['x-api-key', 'k'.repeat(10_000)])],
    ['obsolete line folding', () => headers.push(['Host', 'x'], ['X-Fold', 'a\r\n b'])],
  ];
  const [what, add] = rng.pick(cases);
  add();
  if (ctx.apiKey !== undefined && !what.startsWith('x-api-key')) headers.push(['x-api-key', ctx.apiKey]);
  headers.push(['Content-Type', 'application/json'], ['Content-Length', String(body.length)]);
  const version = rng.chance(0.1) ? rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1x', 'FOO']) : 'HTTP/1.1';
  const bytes = raw({ method: 'POST', target: path, headers, body });
  const fixed = version === 'HTTP/1.1' ? bytes : Buffer.from(bytes.toString('latin1').replace(' HTTP/1.1\r\n', ` ${version}\r\n`), 'latin1');
  return { parts: [fixed], what: `${what}${version !== 'HTTP/1.1' ? `, ${version}` : ''}`, path, method: 'POST' };
}

/**
 * Two to four well-formed requests (some with bodies the API refuses) on one keep-alive connection, written
 * at once: each must be answered in order, so a refusal must read (or close on) its body, never leave it to
 * be parsed as the next request.
 */
function pipelined(rng: Rng, ctx: FuzzContext): { parts: Buffer[]; what: string; path: string; method: string; pipeline: { kind: FuzzKind; path: string; method: string }[] } {
  const makers: [FuzzKind, () => Body][] = [
    ['valid', () => valid(rng, ctx)],
    ['wrong-types', () => wrongTypes(rng, ctx)],
    ['v1-shape', () => v1Shape(rng, ctx)],
    ['v2-shape', () => v2Shape(rng, ctx)],
    ['content-type', () => contentType(rng, ctx)],
    ['huge-numbers', () => hugeNumbers(rng, ctx)],
    ['invalid-utf8', () => invalidUtf8(rng, ctx)],
    ['status-page', () => statusPage(rng)],
    ['endpoint', () => endpoint(rng, ctx)],
    ['random-json', () => ({ method: rng.chance(0.8) ? 'POST' : 'GET', path: rng.pick(routePaths(ctx)), body: randomJson(rng), what: 'random JSON' })],
  ];
  const count = 2 + rng.int(3);
  const pipeline: { kind: FuzzKind; path: string; method: string }[] = [];
  const bytes: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const [kind, make] = rng.pick(makers);
    const b = make();
    const built = fromBody(b, ctx, rng, i < count - 1);
    pipeline.push({ kind, path: b.path, method: b.method });
    bytes.push(...built.parts);
  }
  const all = Buffer.concat(bytes);
  const cut = rng.chance(0.5) ? rng.int(all.length) : 0;
  const parts = cut > 0 ? [all.subarray(0, cut), all.subarray(cut)] : [all];
  return { parts, what: `${count} pipelined: ${pipeline.map((p) => `${p.kind} ${p.method} ${p.path}`).join('; ')}`, path: pipeline[0]!.path, method: pipeline[0]!.method, pipeline };
}

/** Request `index` of `seed`: the same bytes every time. */
export function generateRequest(seed: number, index: number, ctx: FuzzContext): FuzzRequest {
  const rng = new Rng(seed, index + 1);
  // Weights: the structured kinds get more, the costly ones (deep nesting, long strings) fewer.
  const weighted: [FuzzKind, number][] = [
    ['valid', 8],
    ['random-json', 8],
    ['deep-nesting', 3],
    ['huge-numbers', 7],
    ['wrong-types', 8],
    ['long-strings', 2],
    ['invalid-utf8', 6],
    ['truncated', 5],
    ['content-type', 5],
    ['content-length', 6],
    ['chunked', 6],
    ['method', 6],
    ['path', 7],
    ['v1-shape', 7],
    ['v2-shape', 8],
    ['endpoint', 5],
    ['status-page', 2],
    ['headers', 6],
    ['pipelined', 6],
  ];
  const total = weighted.reduce((s, [, w]) => s + w, 0);
  let roll = rng.int(total);
  let kind: FuzzKind = 'valid';
  for (const [k, w] of weighted) {
    if (roll < w) {
      kind = k;
      break;
    }
    roll -= w;
  }
  const done = (r: { parts: Buffer[]; what: string; path: string; method?: string; expect?: FuzzRequest['expect']; pipeline?: FuzzRequest['pipeline'] }): FuzzRequest => ({
    index,
    kind,
    what: r.what,
    parts: r.parts,
    expect: r.expect ?? 'answer',
    path: r.path,
    method: r.method ?? 'POST',
    ...(r.pipeline ? { pipeline: r.pipeline } : {}),
  });
  const body = (b: Body) => done({ ...fromBody(b, ctx, rng), what: b.what });
  switch (kind) {
    case 'valid':
      return body(valid(rng, ctx));
    case 'random-json': {
      const path = rng.pick(routePaths(ctx));
      return body({ method: rng.chance(0.85) ? 'POST' : 'GET', path, body: randomJson(rng), what: 'random JSON' });
    }
    case 'deep-nesting':
      return body(deepNesting(rng, ctx));
    case 'huge-numbers':
      return body(hugeNumbers(rng, ctx));
    case 'wrong-types':
      return body(wrongTypes(rng, ctx));
    case 'long-strings':
      return body(longStrings(rng, ctx));
    case 'invalid-utf8':
      return body(invalidUtf8(rng, ctx));
    case 'truncated': {
      const t = truncated(rng, ctx);
      return done({ parts: [...t], what: t.what, path: t.path, expect: t.expect });
    }
    case 'content-type':
      return body(contentType(rng, ctx));
    case 'content-length':
      return done(contentLength(rng, ctx));
    case 'chunked':
      return done(chunked(rng, ctx));
    case 'method':
      return done(method(rng, ctx));
    case 'path':
      return done(oddPath(rng, ctx));
    case 'v1-shape':
      return body(v1Shape(rng, ctx));
    case 'v2-shape':
      return body(v2Shape(rng, ctx));
    case 'endpoint':
      return body(endpoint(rng, ctx));
    case 'status-page':
      return body(statusPage(rng));
    case 'headers':
      return done(hostileHeaders(rng, ctx));
    case 'pipelined':
      return done(pipelined(rng, ctx));
  }
}
