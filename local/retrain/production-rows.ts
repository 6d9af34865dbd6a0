// Labelled production rows on one machine (issue 17.4): the local equivalent of the retrain data bucket is
// `<stateDir>/retrain-data/`, whose `training-data/<model>/` the local retrain gathers besides the file it is
// given. The local quality monitor writes there through writeLocalLabelledTrainingRows, reading captures and
// labels from `<stateDir>/capture/` as the gateway and the feedback route leave them.
import { join } from 'node:path';
import { writeLabelledTrainingRows, type TrainingRowsRequest, type TrainingRowsResult } from '../../lambdas/core/quality/training-rows/training-rows';
import { FolderObjectStore } from '../storage/folder-object-store';

/** The local stand-in of the retrain data bucket. */
export function localRetrainDataDir(stateDir: string): string {
  return join(stateDir, 'retrain-data');
}

const CAPTURE = 'capture';
const DATA = 'retrain-data';

/** writeLabelledTrainingRows over the state folder: captures and labels from <stateDir>/capture, rows into <stateDir>/retrain-data. */
export function writeLocalLabelledTrainingRows(stateDir: string, request: Omit<TrainingRowsRequest, 'store' | 'captureBucket' | 'dataBucket'>): Promise<TrainingRowsResult> {
  const store = new FolderObjectStore({ [CAPTURE]: join(stateDir, 'capture'), [DATA]: localRetrainDataDir(stateDir) });
  return writeLabelledTrainingRows({ ...request, store, captureBucket: CAPTURE, dataBucket: DATA });
}
