// A SageMaker Batch Transform job run locally, for the `Transform <model>` state: reads the request lines
// under the job's S3Uri prefix, sends each (BatchStrategy SingleRecord, SplitType Line) to the model
// through the same KServe v2 code the local SageMaker endpoint answers with (Triton's JSON), and writes
// `<input file>.out` under S3OutputPath, one answer per line in input order (AssembleWith Line). A
// request the model refuses fails the job, as it fails the cloud's job; nothing else is emulated.
import { parseS3Uri, type ObjectStore } from '../../lambdas/core/storage/object-store';
import { handleInvocation, type EndpointModel } from '../sagemaker/endpoint';
import type { TaskHandler } from '../pipelines/runner';

class TransformJobFailed extends Error {
  // A job that ends Failed is States.TaskFailed in the cloud, with the job's description as the cause.
  override readonly name = 'States.TaskFailed';
}

function field(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TransformJobFailed(`${path} must be an object`);
  return value as Record<string, unknown>;
}

function expect(actual: unknown, expected: string, path: string): void {
  if (actual !== expected) throw new TransformJobFailed(`${path} is ${JSON.stringify(actual)}; the local transform job runs only ${expected}`);
}

export function localTransformJob(options: { store: ObjectStore; model: () => Promise<EndpointModel> }): TaskHandler {
  return async (input) => {
    const params = field(input, 'the task input');
    const jobName = String(params.TransformJobName);
    const transformInput = field(params.TransformInput, 'TransformInput');
    const source = field(field(transformInput.DataSource, 'TransformInput.DataSource').S3DataSource, 'TransformInput.DataSource.S3DataSource');
    const output = field(params.TransformOutput, 'TransformOutput');
    expect(params.BatchStrategy, 'SingleRecord', 'BatchStrategy');
    expect(transformInput.SplitType, 'Line', 'TransformInput.SplitType');
    expect(source.S3DataType, 'S3Prefix', 'TransformInput.DataSource.S3DataSource.S3DataType');
    expect(output.AssembleWith, 'Line', 'TransformOutput.AssembleWith');
    const from = parseS3Uri(String(source.S3Uri));
    const to = parseS3Uri(String(output.S3OutputPath));
    if (!from || !to) throw new TransformJobFailed(`S3Uri ${String(source.S3Uri)} and S3OutputPath ${String(output.S3OutputPath)} must be s3:// URIs`);
    const contentType = typeof transformInput.ContentType === 'string' ? transformInput.ContentType : undefined;
    const model = await options.model();
    const outPrefix = to.key === '' || to.key.endsWith('/') ? to.key : `${to.key}/`;
    let records = 0;
    for await (const object of options.store.list(from.bucket, from.key)) {
      const text = new TextDecoder().decode(await options.store.read(from.bucket, object.key));
      const answers: string[] = [];
      const lines = text.split('\n');
      for (const [i, line] of lines.entries()) {
        if (line === '' && i === lines.length - 1) continue;
        const answer = await handleInvocation(model, line, contentType);
        if (answer.statusCode !== 200) {
          throw new TransformJobFailed(JSON.stringify({ TransformJobName: jobName, TransformJobStatus: 'Failed', FailureReason: `ClientError: record ${i + 1} of ${object.key}: ${answer.body.slice(0, 500)}` }));
        }
        answers.push(answer.body);
        records += 1;
      }
      const relative = object.key.slice(from.key.length).replace(/^\//, '') || object.key.split('/').at(-1)!;
      await options.store.write(to.bucket, `${outPrefix}${relative}.out`, answers.map((a) => `${a}\n`).join(''));
    }
    return { TransformJobName: jobName, TransformJobStatus: 'Completed', ModelName: params.ModelName ?? null, TransformOutput: output, records };
  };
}
