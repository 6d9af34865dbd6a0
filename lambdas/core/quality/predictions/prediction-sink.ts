// Where prediction lines go: stdout in the inference function and the SageMaker proxy (a log subscription takes
// them to the capture bucket under predictions/), files under .mlship/capture/predictions/ locally
// (local/monitoring/capture-files.ts). A sink never makes the request wait: it takes the lines and returns.
import { hourPath } from '../../monitoring/capture/capture-keys';
import { PREDICTIONS_PREFIX } from '../contracts';

export interface PredictionSink {
  /**
   * The PredictionRecord lines (no newline) of one request answered by a model version at `time`, and its
   * CaptureRecord lines when the request was also captured: handed over together, so stdout takes all of a
   * request's lines in one write.
   */
  writePredictions(model: string, version: string, time: Date, lines: readonly string[], captureLines?: readonly string[]): void;
}

/** `predictions/model=<model>/version=<version>/`: every prediction of one version of a model. */
export function predictionsModelPrefix(model: string, version: string): string {
  return `${PREDICTIONS_PREFIX}model=${model}/version=${version}/`;
}

/** The folder of one UTC hour of a model version's predictions. */
export function predictionsHourPrefix(model: string, version: string, hour: Date): string {
  return `${predictionsModelPrefix(model, version)}${hourPath(hour)}/`;
}
