// The HTTP API's route table, shared by the CDK API construct (which creates one API Gateway resource
// per route) and the local gateway (which routes with it), so both serve exactly the same paths.

export type ServerOperation = 'live' | 'ready' | 'server-metadata';
export type ModelOperation = 'metadata' | 'ready' | 'infer' | 'predict' | 'explain' | 'status';

export interface ServerRoute {
  readonly kind: 'server';
  readonly method: 'GET';
  readonly path: string;
  readonly operation: ServerOperation;
}

export interface ModelRoute {
  readonly kind: 'model';
  readonly method: 'GET' | 'POST';
  /** Resource path with the model name filled in: one API Gateway resource per model and route. */
  readonly path: string;
  readonly operation: ModelOperation;
  readonly model: string;
}

/**
 * A model's feedback route (issue 17.2): ground-truth labels for its predictions. Served by the feedback function
 * in the cloud and the label store locally, never by the model's own function (whose ModelApi answers 404 to it).
 */
export interface FeedbackRoute {
  readonly kind: 'feedback';
  readonly method: 'POST';
  readonly path: string;
  readonly model: string;
}

export type Route = ServerRoute | ModelRoute | FeedbackRoute;

export const SERVER_ROUTES: readonly ServerRoute[] = [
  { kind: 'server', method: 'GET', path: '/v2', operation: 'server-metadata' },
  { kind: 'server', method: 'GET', path: '/v2/health/live', operation: 'live' },
  { kind: 'server', method: 'GET', path: '/v2/health/ready', operation: 'ready' },
];

/** Every route of one model: the Open Inference Protocol v2 routes and the v1 `:predict` and `:explain` forms. */
export function modelRoutes(model: string): ModelRoute[] {
  return [
    { kind: 'model', model, method: 'GET', path: `/v2/models/${model}`, operation: 'metadata' },
    { kind: 'model', model, method: 'GET', path: `/v2/models/${model}/ready`, operation: 'ready' },
    { kind: 'model', model, method: 'POST', path: `/v2/models/${model}/infer`, operation: 'infer' },
    { kind: 'model', model, method: 'GET', path: `/v1/models/${model}`, operation: 'status' },
    { kind: 'model', model, method: 'POST', path: `/v1/models/${model}:predict`, operation: 'predict' },
    { kind: 'model', model, method: 'POST', path: `/v1/models/${model}:explain`, operation: 'explain' },
  ];
}

/** The feedback route of one model: `POST /v1/models/<name>/feedback`. */
export function feedbackRoute(model: string): FeedbackRoute {
  return { kind: 'feedback', model, method: 'POST', path: `/v1/models/${model}/feedback` };
}

export type RouteMatch =
  | { readonly found: 'route'; readonly route: Route }
  | { readonly found: 'wrong-method'; readonly allowed: readonly string[] }
  | { readonly found: 'unknown-model'; readonly model: string }
  | { readonly found: 'none' };

// Paths shaped like a model route; the cloud answers the same shapes with 404 model_not_found.
const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/(?:ready|infer))?$|^\/v1\/models\/([^/]+?)(?::predict|:explain|\/feedback)?$/;

/** A router over a fixed set of models: exact path lookups, no regex on the hot path. */
export class RouteTable {
  private readonly byPath = new Map<string, Route[]>();

  constructor(models: readonly string[]) {
    for (const route of [...SERVER_ROUTES, ...models.flatMap((model) => [...modelRoutes(model), feedbackRoute(model)])]) {
      const list = this.byPath.get(route.path) ?? [];
      list.push(route);
      this.byPath.set(route.path, list);
    }
  }

  get routes(): Route[] {
    return [...this.byPath.values()].flat();
  }

  match(method: string, path: string): RouteMatch {
    const normalized = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const candidates = this.byPath.get(normalized);
    if (candidates) {
      // No implicit HEAD: API Gateway answers it with the resource's ANY method (405), and so do we.
      const route = candidates.find((r) => r.method === method);
      return route ? { found: 'route', route } : { found: 'wrong-method', allowed: candidates.map((r) => r.method) };
    }
    const shaped = MODEL_PATH.exec(normalized);
    const model = shaped?.[1] ?? shaped?.[2];
    return model ? { found: 'unknown-model', model: safeDecode(model) } : { found: 'none' };
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
