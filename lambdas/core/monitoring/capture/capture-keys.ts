// Where captures lie in the capture bucket (and under .mlship/capture/ locally), per UTC hour:
// - Lambda models: lambda/model=<model>/version=<version>/<yyyy>/<MM>/<dd>/<HH>/<file> (the delivery stream's
//   dynamic partitioning; the local gateway writes the same keys);
// - SageMaker models: data-capture/<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/<file>.jsonl (the endpoint's own).
import { LAMBDA_CAPTURE_PREFIX, SAGEMAKER_CAPTURE_PREFIX } from '../contracts';

/** The variant name of every endpoint this project creates (lib/sagemaker/sagemaker-model.ts VARIANT_NAME). */
export const CAPTURE_VARIANT_NAME = 'AllTraffic';

const HOUR_MS = 3_600_000;
const two = (n: number) => String(n).padStart(2, '0');

/** `yyyy/MM/dd/HH` of a time's UTC hour. */
export function hourPath(time: Date): string {
  return `${time.getUTCFullYear()}/${two(time.getUTCMonth() + 1)}/${two(time.getUTCDate())}/${two(time.getUTCHours())}`;
}

/** `lambda/model=<model>/version=<version>/`: every capture of one version of a Lambda model. */
export function lambdaCaptureModelPrefix(model: string, version: string): string {
  return `${LAMBDA_CAPTURE_PREFIX}model=${model}/version=${version}/`;
}

/** The folder of one hour of a Lambda model version's captures. */
export function lambdaCaptureHourPrefix(model: string, version: string, hour: Date): string {
  return `${lambdaCaptureModelPrefix(model, version)}${hourPath(hour)}/`;
}

/** The folder of one hour of a SageMaker endpoint's captures. */
export function sageMakerCaptureHourPrefix(endpointName: string, hour: Date, variant = CAPTURE_VARIANT_NAME): string {
  return `${SAGEMAKER_CAPTURE_PREFIX}${endpointName}/${variant}/${hourPath(hour)}/`;
}

/** The start of every UTC hour that overlaps [from, to), oldest first. */
export function hoursOf(window: { readonly from: Date; readonly to: Date }): Date[] {
  const hours: Date[] = [];
  const end = window.to.getTime();
  for (let t = Math.floor(window.from.getTime() / HOUR_MS) * HOUR_MS; t < end; t += HOUR_MS) hours.push(new Date(t));
  return hours;
}
