// The raw baseline for the gateway benchmark: the least a node:http server can do to answer a v1
// predict request with the same ONNX session settings: read, JSON.parse, session.run, JSON.stringify.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const [modelDir, portText] = process.argv.slice(2);
const card = JSON.parse(readFileSync(join(modelDir!, 'model.json'), 'utf8')) as { input: { tensorName: string; features: string[] }; output: { scoresTensor: string } };
const width = card.input.features.length;
const session = await ort.InferenceSession.create(readFileSync(join(modelDir!, 'model.onnx')), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const instances = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { instances: number[][] }).instances;
    const rows = new Float32Array(instances.length * width);
    instances.forEach((row, i) => rows.set(row, i * width));
    session
      .run({ [card.input.tensorName]: new ort.Tensor('float32', rows, [instances.length, width]) })
      .then((out) => {
        const body = JSON.stringify({ predictions: Array.from(out[card.output.scoresTensor]!.data as Float32Array) });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      })
      .catch(() => res.destroy());
  });
});
server.listen(Number(portText), '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
