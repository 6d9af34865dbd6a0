// The local gateway's feedback route (issue 17.2): POST /v1/models/<name>/feedback answered by the same core as
// the cloud's feedback function (lambdas/core/quality/feedback/feedback-api.ts), the labels kept by the local
// LabelStore under <stateDir>/capture/ground-truth/. The gateway routes to it (RouteTable's `feedback` routes),
// reads the body within api.maxBodyBytes and sends what handleFeedback returns.
import { join } from 'node:path';
import type { LoadedManifest } from '../../lambdas/core/manifest/load';
import { answerFeedback, type FeedbackRequest, type FeedbackResponse } from '../../lambdas/core/quality/feedback/feedback-api';
import { feedbackTargetOf, type FeedbackTarget } from '../../lambdas/core/quality/feedback/validate';
import { LabelStore, type LabelIndexStats, type LabelStoreOptions } from './label-store';

/** The feedback targets of every model of a manifest: each card's classes and its entry's maxBatchSize. */
export function feedbackTargets(loaded: LoadedManifest): FeedbackTarget[] {
  return loaded.models.map((m) => feedbackTargetOf(m.card, m.entry.maxBatchSize));
}

/** Opens the label store of a state folder (`<stateDir>/capture/ground-truth/...`) for every model of the manifest. */
export function openLabelStore(stateDir: string, loaded: LoadedManifest, options: LabelStoreOptions = {}): Promise<{ store: LabelStore; stats: LabelIndexStats }> {
  return LabelStore.open(join(stateDir, 'capture'), feedbackTargets(loaded), options);
}

export interface HandleFeedbackOptions {
  /** Longest body, bytes: the manifest's api.maxBodyBytes. */
  readonly maxBodyBytes: number;
  /** @default - now */
  readonly receivedAt?: Date;
  /** Told when the labels could not be written (the caller got a 500 and may retry). */
  readonly onError?: (error: unknown) => void;
}

/**
 * One feedback request for the model `target`: 202 `{accepted, duplicates}` once the labels are on disk; 400
 * naming the item and field (nothing kept), 405, 413, 415 as the model routes answer; 500 when the disk failed.
 */
export function handleFeedback(target: FeedbackTarget, store: LabelStore, request: FeedbackRequest, options: HandleFeedbackOptions): Promise<FeedbackResponse> {
  return answerFeedback(request, target, store, options);
}
