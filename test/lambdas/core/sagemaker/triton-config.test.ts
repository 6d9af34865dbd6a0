// Triton's config.pbtxt for a model card, checked against Triton's model-configuration format: the generated
// text is parsed as protobuf text format and every field is checked against the messages of Triton's
// model_config.proto (inference.ModelConfig and the messages it uses, the fields this generator may write,
// with their types and enum values), then against the ONNX graph (dims without the batch dimension).
// Over 400 lines: it carries its own copy of model_config.proto's fields to check the generator against.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { modelCardSchema, type ModelCard } from '../../../../lambdas/core/models/model-card';
import { inspectOnnx, type OnnxGraphInfo } from '../../../../lambdas/core/models/onnx-inspect';
import { TRITON_MAX_BATCH_SIZE, tritonConfig, tritonConfigProblems, tritonRepositoryPaths } from '../../../../lambdas/core/sagemaker/triton-config';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');

// ---- A small protobuf text-format reader ------------------------------------------------------------

type Scalar = { kind: 'string'; value: string } | { kind: 'number'; value: number } | { kind: 'ident'; value: string };
type Value = Scalar | { kind: 'message'; fields: Field[] };
interface Field {
  readonly name: string;
  /** Values in order; a `[ ... ]` list contributes each of its entries. */
  readonly values: Value[];
  readonly list: boolean;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const pattern = /\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|[A-Za-z_][A-Za-z0-9_]*|[{}[\]:,]/gy;
  let match: RegExpExecArray | null;
  let at = 0;
  while (at < text.length) {
    pattern.lastIndex = at;
    match = pattern.exec(text);
    if (!match) throw new Error(`unexpected character ${JSON.stringify(text[at])} at ${at}`);
    if (!/^\s|^#/.test(match[0])) tokens.push(match[0]);
    at = pattern.lastIndex;
  }
  return tokens;
}

function unquote(token: string): string {
  return token.slice(1, -1).replace(/\\([0-7]{3}|.)/g, (_, esc: string) => (esc.length === 3 ? String.fromCharCode(parseInt(esc, 8)) : esc === 'n' ? '\n' : esc));
}

/** Parses protobuf text format into fields (no schema yet). */
function parseTextProto(text: string): Field[] {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const next = () => {
    const token = tokens[i++];
    if (token === undefined) throw new Error('unexpected end of input');
    return token;
  };
  const expect = (token: string) => {
    const got = next();
    if (got !== token) throw new Error(`expected '${token}', got '${got}'`);
  };
  const scalar = (token: string): Scalar => {
    if (token.startsWith('"')) return { kind: 'string', value: unquote(token) };
    if (/^-?\d/.test(token)) return { kind: 'number', value: Number(token) };
    if (/^[A-Za-z_]/.test(token)) return { kind: 'ident', value: token };
    throw new Error(`expected a value, got '${token}'`);
  };
  const value = (): Value => {
    if (peek() === '{') {
      next();
      const fields = message('}');
      expect('}');
      return { kind: 'message', fields };
    }
    return scalar(next());
  };
  const message = (end: string | undefined): Field[] => {
    const fields: Field[] = [];
    while (peek() !== end) {
      const name = next();
      if (!/^[A-Za-z_]\w*$/.test(name)) throw new Error(`expected a field name, got '${name}'`);
      const colon = peek() === ':';
      if (colon) next();
      if (peek() === '[') {
        next();
        const values: Value[] = [];
        while (peek() !== ']') {
          values.push(value());
          if (peek() === ',') next();
          else if (peek() !== ']') throw new Error(`expected ',' or ']' in ${name}, got '${String(peek())}'`);
        }
        expect(']');
        fields.push({ name, values, list: true });
      } else {
        if (!colon && peek() !== '{') throw new Error(`expected ':' after ${name}`);
        fields.push({ name, values: [value()], list: false });
      }
    }
    return fields;
  };
  const fields = message(undefined);
  if (i !== tokens.length) throw new Error(`trailing input at token ${i}`);
  return fields;
}

// ---- Triton's ModelConfig, as in triton-inference-server/common protobuf/model_config.proto --------------

type FieldType = 'string' | 'int32' | 'int64' | 'uint64' | 'bool' | { enum: readonly string[] } | { message: string };
interface FieldDef {
  readonly type: FieldType;
  readonly repeated?: boolean;
}

const DATA_TYPES = ['TYPE_INVALID', 'TYPE_BOOL', 'TYPE_UINT8', 'TYPE_UINT16', 'TYPE_UINT32', 'TYPE_UINT64', 'TYPE_INT8', 'TYPE_INT16', 'TYPE_INT32', 'TYPE_INT64', 'TYPE_FP16', 'TYPE_FP32', 'TYPE_FP64', 'TYPE_STRING', 'TYPE_BF16'];
const MESSAGES: Record<string, Record<string, FieldDef>> = {
  ModelConfig: {
    name: { type: 'string' },
    platform: { type: 'string' },
    backend: { type: 'string' },
    version_policy: { type: { message: 'ModelVersionPolicy' } },
    max_batch_size: { type: 'int32' },
    input: { type: { message: 'ModelInput' }, repeated: true },
    output: { type: { message: 'ModelOutput' }, repeated: true },
    dynamic_batching: { type: { message: 'ModelDynamicBatching' } },
    instance_group: { type: { message: 'ModelInstanceGroup' }, repeated: true },
    default_model_filename: { type: 'string' },
  },
  ModelVersionPolicy: {
    latest: { type: { message: 'ModelVersionPolicy.Latest' } },
    all: { type: { message: 'ModelVersionPolicy.All' } },
    specific: { type: { message: 'ModelVersionPolicy.Specific' } },
  },
  'ModelVersionPolicy.Latest': { num_versions: { type: 'int32' } },
  'ModelVersionPolicy.All': {},
  'ModelVersionPolicy.Specific': { versions: { type: 'int64', repeated: true } },
  ModelInput: {
    name: { type: 'string' },
    data_type: { type: { enum: DATA_TYPES } },
    format: { type: { enum: ['FORMAT_NONE', 'FORMAT_NHWC', 'FORMAT_NCHW'] } },
    dims: { type: 'int64', repeated: true },
    reshape: { type: { message: 'ModelTensorReshape' } },
    is_shape_tensor: { type: 'bool' },
    allow_ragged_batch: { type: 'bool' },
    optional: { type: 'bool' },
  },
  ModelOutput: {
    name: { type: 'string' },
    data_type: { type: { enum: DATA_TYPES } },
    dims: { type: 'int64', repeated: true },
    reshape: { type: { message: 'ModelTensorReshape' } },
    label_filename: { type: 'string' },
    is_shape_tensor: { type: 'bool' },
  },
  ModelTensorReshape: { shape: { type: 'int64', repeated: true } },
  ModelDynamicBatching: {
    preferred_batch_size: { type: 'int32', repeated: true },
    max_queue_delay_microseconds: { type: 'uint64' },
    preserve_ordering: { type: 'bool' },
  },
  ModelInstanceGroup: {
    name: { type: 'string' },
    kind: { type: { enum: ['KIND_AUTO', 'KIND_GPU', 'KIND_CPU', 'KIND_MODEL'] } },
    count: { type: 'int32' },
    gpus: { type: 'int32', repeated: true },
  },
};

/** Every way `fields` breaks message `type` of model_config.proto, with the field path. */
function schemaProblems(fields: readonly Field[], type: string, path = ''): string[] {
  const defs = MESSAGES[type]!;
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const field of fields) {
    const where = path ? `${path}.${field.name}` : field.name;
    const def = defs[field.name];
    if (!def) {
      problems.push(`${where}: no such field in ${type}`);
      continue;
    }
    if (!def.repeated && (field.list || seen.has(field.name))) problems.push(`${where}: ${type}.${field.name} is not repeated`);
    seen.add(field.name);
    field.values.forEach((value, index) => {
      const at = def.repeated ? `${where}[${index}]` : where;
      const t = def.type;
      if (typeof t === 'object' && 'message' in t) {
        if (value.kind !== 'message') problems.push(`${at}: must be a ${t.message} message`);
        else problems.push(...schemaProblems(value.fields, t.message, at));
      } else if (typeof t === 'object') {
        if (value.kind !== 'ident' || !t.enum.includes(value.value)) problems.push(`${at}: must be one of ${t.enum.join(', ')}, received ${JSON.stringify(value)}`);
      } else if (t === 'string') {
        if (value.kind !== 'string') problems.push(`${at}: must be a string`);
      } else if (t === 'bool') {
        if (value.kind !== 'ident' || !['true', 'false'].includes(value.value)) problems.push(`${at}: must be true or false`);
      } else if (value.kind !== 'number' || !Number.isInteger(value.value) || ((t === 'uint64') && value.value < 0)) {
        problems.push(`${at}: must be an ${t}`);
      }
    });
  }
  if (type === 'ModelConfig' && seen.has('dynamic_batching') && (seen.has('sequence_batching') || seen.has('ensemble_scheduling'))) problems.push('scheduling_choice: only one of them');
  return problems;
}

/** The generated config as plain data, after checking it against the schema. */
interface Tensor {
  name: string;
  data_type: string;
  dims: number[];
  reshape?: number[];
}
interface Config {
  name: string;
  platform: string;
  max_batch_size: number;
  versions: number[];
  input: Tensor[];
  output: Tensor[];
  maxQueueDelay?: number;
  instanceGroups: { count: number; kind: string }[];
}

function readConfig(text: string): Config {
  const fields = parseTextProto(text);
  assert.deepEqual(schemaProblems(fields, 'ModelConfig'), [], text);
  const one = (fs: readonly Field[], name: string): Value | undefined => fs.find((f) => f.name === name)?.values[0];
  const all = (fs: readonly Field[], name: string): Value[] => fs.filter((f) => f.name === name).flatMap((f) => f.values);
  const str = (v: Value | undefined) => (v && (v.kind === 'string' || v.kind === 'ident') ? v.value : undefined);
  const num = (v: Value | undefined) => (v?.kind === 'number' ? v.value : undefined);
  const msg = (v: Value | undefined) => (v?.kind === 'message' ? v.fields : []);
  const tensor = (v: Value): Tensor => {
    const fs = msg(v);
    const reshape = one(fs, 'reshape');
    return { name: str(one(fs, 'name'))!, data_type: str(one(fs, 'data_type'))!, dims: all(fs, 'dims').map((d) => num(d)!), ...(reshape ? { reshape: all(msg(reshape), 'shape').map((d) => num(d)!) } : {}) };
  };
  const dynamic = one(fields, 'dynamic_batching');
  return {
    name: str(one(fields, 'name'))!,
    platform: str(one(fields, 'platform'))!,
    max_batch_size: num(one(fields, 'max_batch_size')) ?? 0,
    versions: all(msg(one(msg(one(fields, 'version_policy')), 'specific')), 'versions').map((v) => num(v)!),
    input: all(fields, 'input').map(tensor),
    output: all(fields, 'output').map(tensor),
    ...(dynamic ? { maxQueueDelay: num(one(msg(dynamic), 'max_queue_delay_microseconds')) ?? 0 } : {}),
    instanceGroups: all(fields, 'instance_group').map((g) => ({ count: num(one(msg(g), 'count')) ?? 1, kind: str(one(msg(g), 'kind')) ?? 'KIND_AUTO' })),
  };
}

// ---- The shipped models ------------------------------------------------------------------------------

function shipped(name: string): { card: ModelCard; graph: OnnxGraphInfo } {
  const dir = join(repoRoot, 'models', name, '1');
  return {
    card: modelCardSchema.parse(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'))),
    graph: inspectOnnx(readFileSync(join(dir, 'model.onnx'))),
  };
}

const ONNX_TO_TRITON: Record<string, string> = { float: 'TYPE_FP32', int64: 'TYPE_INT64' };

describe("tritonConfig: the shipped models against Triton's model-configuration format", () => {
  for (const [name, maxBatchSize] of [
    ['breast-cancer', 1000],
    ['digits', 500],
  ] as const) {
    it(`${name}: valid ModelConfig fields and types, dims without the batch dimension, the card's version`, () => {
      const { card, graph } = shipped(name);
      const config = readConfig(tritonConfig(card, { maxBatchSize, device: 'gpu', graph }));
      assert.equal(config.name, name);
      assert.equal(config.platform, 'onnxruntime_onnx');
      assert.equal(config.max_batch_size, maxBatchSize);
      assert.deepEqual(config.versions, [card.version]);
      assert.deepEqual(config.instanceGroups, [{ count: 1, kind: 'KIND_GPU' }]);
      assert.equal(config.maxQueueDelay, 100);
      // Every ONNX input and output, with Triton's dtype name and the dims after the batch dimension:
      // Triton adds the batch dimension itself when max_batch_size > 0.
      assert.deepEqual(
        config.input.map((t) => [t.name, t.data_type, t.dims]),
        graph.inputs.map((t) => [t.name, ONNX_TO_TRITON[t.elemType], t.dims.slice(1)]),
      );
      for (const output of graph.outputs) {
        const configured = config.output.find((o) => o.name === output.name);
        assert.ok(configured, `output ${output.name} is configured`);
        assert.equal(configured.data_type, ONNX_TO_TRITON[output.elemType]);
        const rest = output.dims.slice(1);
        // A [N] tensor is dims [ 1 ] reshaped to [ ] for the model (Triton's rule for batch-only tensors).
        assert.deepEqual([configured.dims, configured.reshape], rest.length === 0 ? [[1], []] : [rest, undefined], output.name);
      }
      assert.equal(config.output.length, graph.outputs.length);
      assert.deepEqual(config.input[0]!.dims, [card.input.features.length]);
      assert.deepEqual(config.output.find((o) => o.name === card.output.scoresTensor)!.dims, [card.labels.length]);
    });
  }

  it('digits: exactly this text', () => {
    const { card, graph } = shipped('digits');
    assert.equal(
      tritonConfig(card, { maxBatchSize: 500, device: 'gpu', graph }),
      [
        'name: "digits"',
        'platform: "onnxruntime_onnx"',
        'max_batch_size: 500',
        'version_policy: { specific: { versions: [ 1 ] } }',
        'input [',
        '  {',
        '    name: "input"',
        '    data_type: TYPE_FP32',
        '    dims: [ 64 ]',
        '  }',
        ']',
        'output [',
        '  {',
        '    name: "probabilities"',
        '    data_type: TYPE_FP32',
        '    dims: [ 10 ]',
        '  },',
        '  {',
        '    name: "label"',
        '    data_type: TYPE_INT64',
        '    dims: [ 1 ]',
        '    reshape: { shape: [ ] }',
        '  }',
        ']',
        'dynamic_batching {',
        '  max_queue_delay_microseconds: 100',
        '}',
        'instance_group [',
        '  {',
        '    count: 1',
        '    kind: KIND_GPU',
        '  }',
        ']',
        '',
      ].join('\n'),
    );
  });

  it('gives the same config from the card alone as from the ONNX graph, for both models', () => {
    for (const name of ['breast-cancer', 'digits']) {
      const { card, graph } = shipped(name);
      assert.equal(tritonConfig(card, { maxBatchSize: 64, device: 'cpu' }), tritonConfig(card, { maxBatchSize: 64, device: 'cpu', graph }));
    }
  });

  it('lays the repository out as <model>/config.pbtxt and <model>/<mlship version>/model.onnx', () => {
    assert.deepEqual(tritonRepositoryPaths({ name: 'digits', version: 3 }), { config: 'digits/config.pbtxt', versionDir: 'digits/3', onnx: 'digits/3/model.onnx' });
  });
});

describe('tritonConfig: settings and other model shapes', () => {
  const { card: digits } = shipped('digits');

  it('runs on the CPU for CPU instance families, with the instance count and queue delay asked for', () => {
    const config = readConfig(tritonConfig(digits, { maxBatchSize: 8, device: 'cpu', instanceCount: 2, maxQueueDelayMicroseconds: 2500 }));
    assert.deepEqual(config.instanceGroups, [{ count: 2, kind: 'KIND_CPU' }]);
    assert.equal(config.maxQueueDelay, 2500);
  });

  it(`caps max_batch_size at ${TRITON_MAX_BATCH_SIZE}`, () => {
    assert.equal(readConfig(tritonConfig(digits, { maxBatchSize: 10_000, device: 'gpu' })).max_batch_size, TRITON_MAX_BATCH_SIZE);
  });

  it('keeps the image dims of a card whose input shape is [N, height, width]', () => {
    const card: ModelCard = { ...digits, input: { ...digits.input, shape: [-1, 8, 8] } };
    assert.deepEqual(readConfig(tritonConfig(card, { maxBatchSize: 8, device: 'gpu' })).input[0]!.dims, [8, 8]);
  });

  it('turns symbolic and unknown dims other than the batch into -1', () => {
    const graph = { inputs: [{ name: 'input', elemType: 'float', dims: ['batch', 'width'] }], outputs: [{ name: 'probabilities', elemType: 'float', dims: ['batch', 10] }, { name: 'label', elemType: 'int64', dims: ['batch'] }] };
    assert.deepEqual(readConfig(tritonConfig(digits, { maxBatchSize: 8, device: 'gpu', graph })).input[0]!.dims, [-1]);
  });

  it('does not batch a model whose input has a fixed first dimension: max_batch_size 0, full dims, no dynamic batching', () => {
    const graph = { inputs: [{ name: 'input', elemType: 'float', dims: [1, 64] }], outputs: [{ name: 'probabilities', elemType: 'float', dims: [1, 10] }, { name: 'label', elemType: 'int64', dims: [1] }] };
    const config = readConfig(tritonConfig(digits, { maxBatchSize: 500, device: 'gpu', graph }));
    assert.equal(config.max_batch_size, 0);
    assert.deepEqual(config.input[0]!.dims, [1, 64]);
    assert.deepEqual(config.output.map((o) => [o.dims, o.reshape]), [[[1, 10], undefined], [[1], undefined]]);
    assert.equal(config.maxQueueDelay, undefined);
  });

  it('describes a regression output of shape [N, 1] or [N]', () => {
    const regression: ModelCard = { ...digits, task: 'regression', labels: [], output: { scoresTensor: 'value', scoresKind: 'value' } };
    assert.deepEqual(readConfig(tritonConfig(regression, { maxBatchSize: 8, device: 'gpu' })).output, [{ name: 'value', data_type: 'TYPE_FP32', dims: [1] }]);
    const flat = { inputs: [{ name: 'input', elemType: 'float', dims: ['N', 64] }], outputs: [{ name: 'value', elemType: 'float', dims: ['N'] }] };
    assert.deepEqual(readConfig(tritonConfig(regression, { maxBatchSize: 8, device: 'gpu', graph: flat })).output, [{ name: 'value', data_type: 'TYPE_FP32', dims: [1], reshape: [] }]);
  });

  it('quotes tensor names safely', () => {
    const odd = 'in"put\\x\n';
    const card: ModelCard = { ...digits, input: { ...digits.input, tensorName: odd } };
    assert.equal(readConfig(tritonConfig(card, { maxBatchSize: 8, device: 'gpu' })).input[0]!.name, odd);
  });

  it('refuses settings and graphs it cannot describe, naming each problem', () => {
    assert.deepEqual(tritonConfigProblems(digits, { maxBatchSize: 0, device: 'tpu' as 'gpu', maxQueueDelayMicroseconds: -1, instanceCount: 1.5 }), [
      'maxBatchSize must be an integer, 1 or more, received 0',
      'maxQueueDelayMicroseconds must be an integer, 0 or more, received -1',
      'instanceCount must be an integer, 1 or more, received 1.5',
      "device must be gpu or cpu, received 'tpu'",
    ]);
    const graph = { inputs: [{ name: 'pixels', elemType: 'float', dims: ['N', 64] }], outputs: [{ name: 'probabilities', elemType: 'float', dims: ['N', 10] }] };
    assert.throws(() => tritonConfig(digits, { maxBatchSize: 8, device: 'gpu', graph }), {
      message: "cannot write Triton's config.pbtxt for digits v1: the ONNX graph has no input named 'input' (model.json input.tensorName); the ONNX graph has no output named 'label'",
    });
    assert.throws(() => tritonConfig({ ...digits, input: { ...digits.input, shape: [] } }, { maxBatchSize: 8, device: 'gpu' }), /the input 'input' has no dimensions/);
  });
});

describe('the text-format checker itself', () => {
  it('finds misspelt fields, wrong types, unknown enum values and a repeated singular field', () => {
    const fields = parseTextProto('name: "x"\nmax_batch_size: "8"\ninput [ { name: "a" data_typ: TYPE_FP32 dims: [ 3 ] } ]\noutput [ { name: "b" data_type: FP32 } ]\nname: "y"\ninstance_group [ { kind: KIND_TPU } ]');
    assert.deepEqual(schemaProblems(fields, 'ModelConfig'), [
      'max_batch_size: must be an int32',
      'input[0].data_typ: no such field in ModelInput',
      `output[0].data_type: must be one of ${DATA_TYPES.join(', ')}, received {"kind":"ident","value":"FP32"}`,
      'name: ModelConfig.name is not repeated',
      'instance_group[0].kind: must be one of KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL, received {"kind":"ident","value":"KIND_TPU"}',
    ]);
    assert.throws(() => parseTextProto('input [ { name: "a" '), /unexpected end of input/);
  });
});
