// The local gateway: API Gateway's part (routing, body limit, throttling, JSON gateway errors) on a
// node:http server, in front of the very Lambda handler each model runs in the cloud, called with
// API Gateway proxy events. One process serves every model in the manifest.
// Over 400 lines: the gateway's routing, body reading, timeouts and start/stop, the one class npm start runs.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { ServedModel } from '../../lambdas/core/models/inference-session';
import { errorBody, GatewayTimeoutError, INTERNAL_ERROR_BODY, MethodNotAllowedError, ModelUnavailableError, NotFoundError, PayloadTooLargeError, TooManyRequestsError, type ApiError } from '../../lambdas/core/serving/errors';
import { ModelApi } from '../../lambdas/core/serving/model-api';
import type { ModelCard } from '../../lambdas/core/models/model-card';
import { RouteTable, type ModelRoute, type Route } from '../../lambdas/core/serving/routes';
import { createInferenceHandler, type InferenceHandler } from '../../lambdas/inference/handler';
import { createSageMakerRuntimeClient } from '../../lambdas/core/sagemaker/predictor';
import { DEFAULT_INVOKE_TIMEOUT_MS, proxyTimeoutSeconds } from '../../lambdas/sagemaker-proxy/config';
import { createSageMakerProxyHandler } from '../../lambdas/sagemaker-proxy/handler';
import { explainOptionsFor, type ExplainLimits } from '../../lambdas/core/serving/explain-options';
import { explainLimitsOf } from '../../lambdas/core/manifest/schema';
import type { LoadedManifest } from '../../lambdas/core/manifest/load';
import { capturePercentOf, type ModelEntry } from '../../lambdas/core/manifest/schema';
import { RequestCapture } from '../../lambdas/core/monitoring/capture/capture-sink';
import { startAdminServer, type AdminServer } from '../release/admin-server';
import { EndpointCapture, localEndpointName, MAX_INVOCATION_BYTES, routeInvocation, startLocalSageMakerEndpoint, type LocalSageMakerEndpoint } from '../sagemaker/endpoint';
import { FolderCaptureSink } from '../monitoring/capture-files';
import { AlertHub, WebhookAlertSink } from '../monitoring/alert-sinks';
import { LocalMonitoring, type LocalMonitoringOptions } from '../monitoring/local-monitoring';
import { serveStatus } from '../monitoring/status-page';
import { LocalAlerts, type AlertSink } from '../release/alerts';
import { ReleaseManager } from '../release/manager';
import { ReleaseStateStore } from '../release/state';
import type { ProcessFaultCounts } from './process-faults';
import { TokenBucket } from './throttle';
import { handleFeedback, openLabelStore } from '../quality/feedback-route';
import type { LabelStore } from '../quality/label-store';
import { feedbackTargetOf, type FeedbackTarget } from '../../lambdas/core/quality/feedback/validate';
import { ApiKeyCheck, OPEN_PATHS } from '../security/api-key';
import { answerClientErrors } from './client-errors';
import { answerEarly, closeConnectionsLingering, DEFAULT_LINGER_LIMITS, isLingering, readBody, type LingerLimits } from './lingering-close';

export interface LocalGatewayOptions {
  readonly manifest: LoadedManifest;
  /** @default 8080 (0 picks a free port) */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /**
   * Apply the manifest's per-route throttling, as API Gateway does.
   * @default false - a developer's machine should not 429 its own load tests
   */
  readonly throttle?: boolean;
  /** @default a Powertools logger at LOG_LEVEL or WARN */
  readonly logger?: Logger;
  /** Longest wait for in-flight requests when closing. @default 10000 */
  readonly drainTimeoutMs?: number;
  /**
   * Longest a client may take to send a whole request, headers and body (not the answer's time): a
   * client that sends a byte now and then holds a connection no longer than this, and gets 408.
   * Node's default is 300 s. @default 30000
   */
  readonly requestTimeoutMs?: number;
  /** Where the release state and alerts live. @default '.mlship' in the working folder */
  readonly stateDir?: string;
  /** Multiplies every release duration (0.01: a 5-minute canary step takes 3 s), for demos and tests. @default 1 */
  readonly timeScale?: number;
  /**
   * Port of the admin routes (release status, promote, rollback), always bound to 127.0.0.1.
   * @default port + 1, or a free port when port is 0
   */
  readonly adminPort?: number;
  /** @default alerts to stderr and <stateDir>/alerts.jsonl */
  readonly alerts?: AlertSink;
  /** Every alert is also POSTed here as JSON (a failing webhook is logged, never fatal). @default none */
  readonly alertWebhook?: string;
  /** Time between drift monitor runs over <stateDir>/capture, ms. @default 60000 */
  readonly monitorIntervalMs?: number;
  /**
   * Capture a share of each model's requests to <stateDir>/capture/ in the capture bucket's key layout, as the
   * cloud does (a Lambda model at monitoring.capturePercent, a SageMaker one at sagemaker.dataCapturePercent), and
   * every answered prediction under <stateDir>/capture/predictions/ (whatever the share); false writes nothing.
   * @default true
   */
  readonly capture?: boolean;
  /** Overrides every model's capture share, percent (100 for demos and tests). @default - the manifest's */
  readonly capturePercent?: number;
  /** A capture file past this size rolls to the next. @default 64 MiB */
  readonly captureFileMaxBytes?: number;
  /** The state folder's size cap, bytes (npm start --state-max-mb). @default the manifest's monitoring.localStateMaxMb */
  readonly stateMaxBytes?: number;
  /** The drift monitor's thread (tests give their own module), and the state folder's check interval. @default - as LocalMonitoring */
  readonly monitorTuning?: Pick<LocalMonitoringOptions, 'monitorThread' | 'stateCheckIntervalMs'>;
  /**
   * Wraps each model version's handler as the gateway builds it (tracing, or faults injected by tests).
   * @default - the handlers as built
   */
  readonly wrapHandler?: (handler: InferenceHandler, model: { readonly name: string; readonly version: number }) => InferenceHandler;
  /**
   * Require this key in the x-api-key header on every route but /v2/health/live and /v2/health/ready (the
   * status page and /endpoints/ included): 403 forbidden without it. The status page is also served on the
   * admin port (127.0.0.1), where a browser needs no key. @default none - the API is open
   */
  readonly apiKey?: string;
  /**
   * Bounds of the lingering close after an early answer (lingering-close.ts): a 413, a 403 without the key,
   * a 417, or a 404, 405 or 429 to a request whose body is over api.maxBodyBytes is answered at once with
   * `connection: close`; what the client still sends is then read and dropped up to maxBytes, for at most
   * maxMs, and idleMs without a byte, before the connection is destroyed.
   * @default 30 s, 5 s idle, and 64 MiB or 16 times api.maxBodyBytes, whichever is larger (16 times: a client
   * may well send ten times the limit by mistake, and still reads its 413)
   */
  readonly lingerLimits?: Partial<LingerLimits>;
  /** The process's uncaught-error counts (local/serving/process-faults.ts), shown on the status page. @default - not shown */
  readonly processFaults?: () => ProcessFaultCounts;
}

/**
 * How long the API waits for a model's handler, as in the cloud (lib/stack/mlship-stack.ts gives each integration its
 * function's timeout): a Lambda model's lambda.timeoutSeconds, a SageMaker model's proxy timeout.
 */
function apiTimeoutMs(entry: ModelEntry): number {
  return (entry.runtime === 'sagemaker' ? proxyTimeoutSeconds(DEFAULT_INVOKE_TIMEOUT_MS) : entry.lambda.timeoutSeconds) * 1000;
}

interface ServedRoute {
  readonly route: ModelRoute;
  readonly maxBodyBytes: number;
  readonly bucket: TokenBucket | undefined;
  /** The model's function timeout (apiTimeoutMs): past it the gateway answers 504, as API Gateway gives up on the function. */
  readonly timeoutMs: number;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

export class LocalGateway {
  private readonly server: Server;
  private readonly table: RouteTable;
  private readonly served = new Map<string, ServedRoute>();
  /** `POST /v1/models/<name>/feedback` per model: its feedback target (classes, maxBatchSize) and throttle. */
  private readonly feedback = new Map<string, { readonly model: string; readonly target: FeedbackTarget; readonly bucket: TokenBucket | undefined }>();
  /** Labels sent to the feedback routes (<stateDir>/capture/ground-truth/); open once started. */
  private labels: LabelStore | undefined;
  private admin: AdminServer | undefined;
  private readonly apiKey: ApiKeyCheck | undefined;
  private draining = false;
  private closed: Promise<void> | undefined;
  private readonly linger: LingerLimits;
  /** Aborted when closing: lingering connections close once their answer is written. */
  private readonly stopping = new AbortController();

  private releases: ReleaseManager | undefined;
  /** Local SageMaker endpoints (`<model>-v<version>`) of the SageMaker models' loaded versions. */
  private readonly endpoints = new Map<string, ServedModel>();
  private sagemakerClient: SageMakerRuntimeClient | undefined;
  /**
   * The proxies' own endpoint server (127.0.0.1, a free port), the same endpoints as the public
   * /endpoints/ route: it stays open while the API drains, so a request in flight still gets its answer.
   */
  private internalEndpoint: LocalSageMakerEndpoint | undefined;
  /** Alerts of releases and monitoring: console, alerts.jsonl, webhook, the status page's list. */
  private readonly alerts: AlertHub;
  /** Metrics, alarms, the drift monitor and the status page of this run. */
  private monitoring: LocalMonitoring | undefined;
  /** Where captured requests and every prediction go (<stateDir>/capture/); undefined when capture is off. */
  readonly captureSink: FolderCaptureSink | undefined;
  /** The local endpoints' own data capture (SageMaker models), into the same sink. */
  private readonly endpointCapture: EndpointCapture | undefined;

  private constructor(
    private readonly options: LocalGatewayOptions,
    private readonly logger: Logger,
  ) {
    const { manifest } = options.manifest;
    this.table = new RouteTable(manifest.models.map((m) => m.name));
    this.apiKey = options.apiKey === undefined ? undefined : new ApiKeyCheck(options.apiKey);
    this.linger = { ...DEFAULT_LINGER_LIMITS, maxBytes: Math.max(DEFAULT_LINGER_LIMITS.maxBytes, 16 * manifest.api.maxBodyBytes), ...options.lingerLimits };
    for (const entry of manifest.models) {
      const throttle = entry.throttle ?? manifest.api.throttle;
      for (const route of this.table.routes) {
        if (route.kind !== 'model' || route.model !== entry.name) continue;
        const bucket = options.throttle ? new TokenBucket(throttle) : undefined;
        this.served.set(`${route.method} ${route.path}`, { route, maxBodyBytes: manifest.api.maxBodyBytes, bucket, timeoutMs: apiTimeoutMs(entry) });
      }
    }
    for (const loaded of options.manifest.models) {
      const route = this.table.routes.find((r) => r.kind === 'feedback' && r.model === loaded.entry.name);
      if (!route) continue;
      // Throttled like the model's other routes, as API Gateway's method throttling does.
      const bucket = options.throttle ? new TokenBucket(loaded.entry.throttle ?? manifest.api.throttle) : undefined;
      this.feedback.set(`${route.method} ${route.path}`, { model: loaded.entry.name, target: feedbackTargetOf(loaded.card, loaded.entry.maxBatchSize), bucket });
    }
    // No Host header required: node's refusal would be a bare 400 without the JSON body; routing answers instead.
    const requestTimeout = options.requestTimeoutMs ?? 30_000;
    this.server = createServer(
      // Node looks for requests past their time every connectionsCheckingInterval (30 s by default).
      { keepAliveTimeout: 5000, requireHostHeader: false, requestTimeout, headersTimeout: Math.min(10_000, requestTimeout), connectionsCheckingInterval: Math.min(1000, Math.max(50, requestTimeout / 4)) },
      (req, res) => this.onRequest(req, res),
    );
    answerClientErrors(this.server, { limits: this.linger, signal: this.stopping.signal });
    closeConnectionsLingering(this.server, this.linger, this.stopping.signal);
    const stateDir = resolve(options.stateDir ?? '.mlship');
    if (options.capture !== false) {
      this.captureSink = new FolderCaptureSink(join(stateDir, 'capture'), { onError: (error, key) => logger.warn('capture not written', { error, key }), ...(options.captureFileMaxBytes ? { maxFileBytes: options.captureFileMaxBytes } : {}) });
      this.endpointCapture = new EndpointCapture(this.captureSink);
    }
    this.alerts = new AlertHub([options.alerts ?? new LocalAlerts(stateDir), ...(options.alertWebhook ? [new WebhookAlertSink(options.alertWebhook)] : [])]);
  }

  /**
   * Listens, then loads every model's sessions and release state (golden checks included) and opens
   * the admin port. Resolves once all are ready; until then model routes answer 503.
   */
  static async start(options: LocalGatewayOptions): Promise<LocalGateway> {
    const logger = options.logger ?? new Logger({ serviceName: 'mlship-local', logLevel: (process.env.LOG_LEVEL as 'WARN' | undefined) ?? 'WARN' });
    const stateDir = resolve(options.stateDir ?? '.mlship');
    const gateway = new LocalGateway(options, logger);
    await new Promise<void>((resolvePromise, reject) => {
      gateway.server.once('error', reject);
      gateway.server.listen(options.port ?? 8080, options.host ?? '127.0.0.1', () => {
        gateway.server.off('error', reject);
        resolvePromise();
      });
    });
    try {
      gateway.labels = (await openLabelStore(stateDir, options.manifest, { onRejected: (key, line, reason) => logger.warn('label file line not read', { key, line, reason }) })).store;
      if (options.manifest.models.some((m) => m.entry.runtime === 'sagemaker')) {
        gateway.internalEndpoint = await startLocalSageMakerEndpoint(gateway.endpoints, 0, { recordInvocations: false, ...(gateway.endpointCapture ? { capture: gateway.endpointCapture } : {}) });
      }
      gateway.monitoring = new LocalMonitoring({
        manifest: options.manifest,
        captureFolder: join(stateDir, 'capture'),
        alerts: gateway.alerts,
        releases: () => gateway.releases,
        timeScale: options.timeScale,
        ...(options.monitorIntervalMs !== undefined ? { monitorIntervalMs: options.monitorIntervalMs } : {}),
        statusUrl: `${gateway.url}/`,
        ...(options.processFaults ? { processFaults: options.processFaults } : {}),
        ...(gateway.captureSink ? { captureSink: gateway.captureSink } : {}),
        stateDir,
        ...(options.stateMaxBytes !== undefined ? { stateMaxBytes: options.stateMaxBytes } : {}),
        ...options.monitorTuning,
        // A given logger hears the monitor's problems (a model without a drift baseline); else stderr.
        ...(options.logger ? { log: (line: string) => options.logger!.warn(line) } : {}),
      });
      gateway.monitoring.start();
      gateway.releases = await ReleaseManager.start({
        manifest: options.manifest,
        store: new ReleaseStateStore(stateDir),
        alerts: gateway.alerts,
        makeHandler: (model, entry) => {
          const handler = gateway.makeHandler(model, entry);
          return options.wrapHandler ? options.wrapHandler(handler, { name: model.name, version: model.version }) : handler;
        },
        timeScale: options.timeScale,
      });
      const port = options.port ?? 8080;
      const monitoring = gateway.monitoring;
      gateway.admin = await startAdminServer(gateway.releases, options.adminPort ?? (port === 0 ? 0 : port + 1), (req, res, path) => serveStatus(req, res, path, () => monitoring.snapshot()));
    } catch (error) {
      await new Promise<void>((done) => gateway.server.close(() => done()));
      await gateway.internalEndpoint?.close();
      await gateway.monitoring?.close();
      await gateway.releases?.close();
      await gateway.labels?.close();
      throw error;
    }
    return gateway;
  }

  /**
   * The handler serving one loaded version of a model, as in the cloud: a Lambda model's inference
   * handler over its session; for a SageMaker model, the proxy's handler calling, with the real SDK
   * client, this gateway's own SageMaker-compatible endpoint for that version (backed by the session).
   */
  private makeHandler(model: ServedModel, entry: ModelEntry): InferenceHandler {
    const { api } = this.options.manifest.manifest;
    const limits = { maxBodyBytes: api.maxBodyBytes, maxBatchSize: entry.maxBatchSize };
    const capturePercent = this.options.capturePercent ?? capturePercentOf(entry);
    // Every answered prediction is recorded whatever the capture share (quality joins each label to one), unless capture is off.
    const predictions = this.captureSink ? { predictions: this.captureSink } : {};
    // :explain reads the version's background.json (as the cloud's function reads it from /opt/ml/model).
    const loaded = this.options.manifest.models.find((m) => m.entry.name === entry.name);
    const dir = loaded && loaded.entry.version === model.version ? loaded.dir : join(this.options.manifest.root, entry.name, String(model.version));
    const explainLimits: ExplainLimits = explainLimitsOf(entry);
    const warn = (message: string) => this.logger.warn(message);
    if (entry.runtime !== 'sagemaker') {
      const capture = this.captureSink && capturePercent > 0 ? new RequestCapture(capturePercent, this.captureSink) : undefined;
      const explain = explainOptionsFor({ dir, card: model.card, predict: (rows, count) => model.predict(rows, count) }, explainLimits, warn);
      return createInferenceHandler({ api: new ModelApi(model, limits, explain), logger: this.logger, ...(capture ? { capture } : {}), ...predictions });
    }
    const endpointName = localEndpointName(entry.name, model.card.version);
    this.endpoints.set(endpointName, model);
    // As SageMaker's DataCaptureConfig: the endpoint captures, not the proxy.
    this.endpointCapture?.set(endpointName, capturePercent);
    this.sagemakerClient ??= createSageMakerRuntimeClient({
      timeoutMs: DEFAULT_INVOKE_TIMEOUT_MS,
      endpoint: this.internalEndpoint!.url,
      region: 'local',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    return createSageMakerProxyHandler({ client: this.sagemakerClient, endpointName, card: model.card, timeoutMs: DEFAULT_INVOKE_TIMEOUT_MS, limits, logger: this.logger, explain: { dir, limits: explainLimits }, ...predictions });
  }

  get url(): string {
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /** Whether callers need the x-api-key header. */
  get requiresApiKey(): boolean {
    return this.apiKey !== undefined;
  }

  /** The admin routes' base URL (release status, promote, rollback, the status page), on 127.0.0.1 only. */
  get adminUrl(): string {
    return this.admin!.url;
  }

  get modelNames(): string[] {
    return this.options.manifest.models.map((m) => m.entry.name);
  }

  /**
   * Runs the monitors (drift, then quality, in their thread) over the window that ends at `now`, after any run in
   * progress: what the timer does, at a time of the caller's choosing (tests; a window that has ended).
   */
  runMonitorsAt(now: Date): Promise<unknown> {
    if (!this.monitoring) throw new Error('the gateway has not finished starting');
    return this.monitoring.monitor.runAt(now);
  }

  /** The model cards of the versions the manifest names. */
  get cards(): ModelCard[] {
    return this.options.manifest.models.map((m) => m.card);
  }

  get releaseManager(): ReleaseManager {
    if (!this.releases) throw new Error('the gateway has not finished starting');
    return this.releases;
  }

  get routes(): Route[] {
    return this.table.routes;
  }

  /**
   * Stops accepting connections, lets in-flight requests finish (up to drainTimeoutMs), closes idle
   * keep-alive connections and releases the sessions. Safe to call more than once.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.draining = true;
      this.stopping.abort();
      const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeIdleConnections();
      const timeout = setTimeout(() => this.server.closeAllConnections(), this.options.drainTimeoutMs ?? 10_000);
      await done;
      clearTimeout(timeout);
      await this.admin?.close();
      this.sagemakerClient?.destroy();
      await this.internalEndpoint?.close();
      await this.captureSink?.close();
      await this.labels?.close();
      await this.monitoring?.close();
      await this.releases?.close();
    })();
    return this.closed;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    // A request node parsed from the bytes that followed an early answer with `connection: close` (in the
    // same chunk): it is not answered, and its body is dropped with the rest.
    if (isLingering(req.socket)) return void req.resume();
    res.once('close', () => {
      // While draining, a keep-alive connection that just went idle has nothing more to wait for.
      if (this.draining) this.server.closeIdleConnections();
    });
    req.once('error', () => res.destroy());
    if (this.draining) res.setHeader('connection', 'close');
    this.route(req, res).catch((error: unknown) => {
      // The caller went away before its body was complete (the request is destroyed): nothing failed here, and
      // there is no one to answer. Any other failure, body complete or not, is logged and answered 500.
      if (!req.complete && req.destroyed) return void this.logger.debug('request aborted by the caller', { method: req.method, path: req.url?.slice(0, 200) });
      this.logger.error('gateway failed to answer', { error: error as Error });
      if (!res.headersSent) send(res, 500, JSON_HEADERS, JSON.stringify(INTERNAL_ERROR_BODY));
      else res.destroy();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    if (this.apiKey && !OPEN_PATHS.has(path)) {
      const forbidden = this.apiKey.check(req.headers['x-api-key']);
      // The connection closes after the 403: nothing a caller without the key sends is parsed or served.
      if (forbidden) return this.reject(req, res, forbidden, true);
    }
    if (path.startsWith('/endpoints/')) return this.invokeEndpoint(req, res, method, path);
    const feedback = this.feedback.get(`${method} ${path}`);
    if (feedback) return this.receiveFeedback(req, res, method, path, feedback);
    const served = this.served.get(`${method} ${path}`);
    if (!served) {
      // The status page (GET / and /status.json): local only, the cloud has the dashboard.
      if (this.monitoring && serveStatus(req, res, path, () => this.monitoring!.snapshot())) return;
      return this.unrouted(req, res, method, path);
    }
    const arrived = performance.now();
    const answered = (statusCode: number, version?: number, handlerMs?: number) =>
      this.monitoring?.record({ model: served.route.model, ...(version !== undefined ? { version: String(version) } : {}), resource: path, operation: served.route.operation, statusCode, latencyMs: performance.now() - arrived, ...(handlerMs !== undefined ? { handlerMs } : {}) });

    if (served.bucket && !served.bucket.tryTake()) {
      answered(429);
      return this.reject(req, res, new TooManyRequestsError(`${method} ${path}`));
    }
    const body = await readBody(req, served.maxBodyBytes, () => {
      answered(413);
      this.reject(req, res, new PayloadTooLargeError(served.maxBodyBytes), true);
    });
    if (body === undefined) return;

    // The weighted `live` alias: the release picks the version, and counts what it answered.
    const release = this.releases?.get(served.route.model);
    if (!release) return this.reject(req, res, new ModelUnavailableError(`model ${served.route.model} is still loading; retry in a moment`));
    const version = release.pick();
    const started = performance.now();
    const result = await this.invoke(() => version.handler(toProxyEvent(req, method, path, queryAt === -1 ? '' : rawUrl.slice(queryAt + 1), served.route, body)), served, version.version);
    const handlerMs = performance.now() - started;
    release.record(version.version, result.statusCode, handlerMs, served.route.operation);
    // Answered during a drain: tell the client this connection ends here, before it sends another request on it.
    if (this.draining) res.setHeader('connection', 'close');
    send(res, result.statusCode, result.headers as Record<string, string>, result.body);
    answered(result.statusCode, version.version, handlerMs);
  }

  /**
   * Calls a model's handler as API Gateway calls its function: a handler that throws or rejects answers 500
   * (as the Lambda entry's own catch does in the cloud), one still running at the model's function timeout
   * answers 504 (Lambda stops a function past its timeout; a local handler cannot be stopped, so its late
   * answer or failure is dropped). Either is counted, so the release alarms and the monitoring see it.
   */
  private async invoke(call: () => Promise<APIGatewayProxyResult>, served: ServedRoute, version: number): Promise<APIGatewayProxyResult> {
    const { model } = served.route;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<APIGatewayProxyResult>((resolveTimeout) => {
      timer = setTimeout(() => {
        // The body API Gateway's INTEGRATION_TIMEOUT response sends; the model and version are in the log line.
        this.logger.error('model timed out', { model, version, timeoutSeconds: served.timeoutMs / 1000 });
        const error = errorBody(new GatewayTimeoutError());
        resolveTimeout({ statusCode: 504, headers: JSON_HEADERS, body: JSON.stringify(error) });
      }, served.timeoutMs);
    });
    try {
      return await Promise.race([call(), timedOut]);
    } catch (error) {
      this.logger.error('handler failed', { error: error as Error, model, version });
      return { statusCode: 500, headers: JSON_HEADERS, body: JSON.stringify(INTERNAL_ERROR_BODY) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** `POST /v1/models/{name}/feedback`: labels for earlier predictions, 202 once they are on disk (the cloud's feedback function answers the same). */
  private async receiveFeedback(req: IncomingMessage, res: ServerResponse, method: string, path: string, route: { readonly model: string; readonly target: FeedbackTarget; readonly bucket: TokenBucket | undefined }): Promise<void> {
    const arrived = performance.now();
    const answered = (statusCode: number) => this.monitoring?.record({ model: route.model, resource: path, statusCode, latencyMs: performance.now() - arrived });
    if (route.bucket && !route.bucket.tryTake()) {
      answered(429);
      return this.reject(req, res, new TooManyRequestsError(`${method} ${path}`));
    }
    const maxBodyBytes = this.options.manifest.manifest.api.maxBodyBytes;
    const body = await readBody(req, maxBodyBytes, () => {
      answered(413);
      this.reject(req, res, new PayloadTooLargeError(maxBodyBytes), true);
    });
    if (body === undefined) return;
    const labels = this.labels;
    if (!labels) return this.reject(req, res, new ModelUnavailableError('the label store is still opening; retry in a moment'));
    const answer = await handleFeedback(route.target, labels, { method, contentType: req.headers['content-type'], body }, { maxBodyBytes, onError: (error) => this.logger.error('labels not stored', { error: error as Error, model: route.model }) });
    if (this.draining) res.setHeader('connection', 'close');
    send(res, answer.statusCode, answer.headers, answer.body);
    answered(answer.statusCode);
  }

  /** `POST /endpoints/{name}/invocations`: SageMaker runtime's InvokeEndpoint, answered by onnxruntime. */
  private async invokeEndpoint(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<void> {
    const body = await readBody(req, MAX_INVOCATION_BYTES, () => this.reject(req, res, new PayloadTooLargeError(MAX_INVOCATION_BYTES), true));
    if (body === undefined) return;
    // As SageMaker's InvokeEndpoint: an InferenceId names the captured request (its eventMetadata.inferenceId).
    const inferenceId = req.headers['x-amzn-sagemaker-inference-id'];
    const answer = await routeInvocation(this.endpoints, method, path, body, req.headers['content-type'], this.endpointCapture, typeof inferenceId === 'string' ? inferenceId : undefined);
    send(res, answer.statusCode, answer.headers, answer.body);
  }

  /** Server routes, and API Gateway's own answers for paths and methods it has no resource for. */
  private unrouted(req: IncomingMessage, res: ServerResponse, method: string, path: string): void {
    const match = this.table.match(method, path);
    if (match.found === 'route' && match.route.kind === 'server') {
      req.resume();
      // Ready once every model is loaded, and no longer once draining: load balancers stop sending.
      const ready = this.releases !== undefined && !this.draining;
      const payload =
        match.route.operation === 'live'
          ? { live: true }
          : match.route.operation === 'ready'
            ? { ready, models: this.modelNames }
            : { name: 'mlship', version: '0.1.0', extensions: [] };
      return send(res, !ready && match.route.operation === 'ready' ? 503 : 200, JSON_HEADERS, JSON.stringify(payload));
    }
    if (match.found === 'wrong-method') return this.reject(req, res, new MethodNotAllowedError(method, path, match.allowed));
    if (match.found === 'unknown-model') {
      return this.reject(req, res, new NotFoundError(`model '${match.model.slice(0, 100)}' is not served; models: ${this.modelNames.join(', ')}`, 'model_not_found'));
    }
    return this.reject(req, res, new NotFoundError(`no route ${method} ${path.slice(0, 200)}; see GET /v2/models/{name} for the API`));
  }

  /**
   * Answers an error, before the request's body is read or after (answerEarly): with `close`, at once and
   * closing the connection lingering; otherwise after dropping a body within the API's limit, keeping the
   * connection, or at once and closing it for a larger body.
   */
  private reject(req: IncomingMessage, res: ServerResponse, error: ApiError, close = false): void {
    const headers: Record<string, string> = { ...JSON_HEADERS };
    if (error instanceof MethodNotAllowedError) headers.allow = error.allowed.join(', ');
    const readUpTo = this.options.manifest.manifest.api.maxBodyBytes;
    answerEarly(req, res, { status: error.status, headers, body: JSON.stringify(errorBody(error)) }, { readUpTo, close, limits: this.linger, signal: this.stopping.signal });
  }
}

function send(res: ServerResponse, statusCode: number, headers: Record<string, string>, body: string): void {
  if (res.destroyed) return;
  res.writeHead(statusCode, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The API Gateway REST proxy event for a request, as the cloud would deliver it to the function. */
function toProxyEvent(req: IncomingMessage, method: string, path: string, query: string, route: ModelRoute, body: string): APIGatewayProxyEvent {
  // node lower-cases header names and joins repeats, as API Gateway's `headers` does (set-cookie aside).
  const headers = req.headers as Record<string, string>;
  const queryStringParameters = query ? Object.fromEntries(new URLSearchParams(query)) : null;
  const requestId = randomUUID();
  return {
    resource: route.path,
    path,
    httpMethod: method,
    headers,
    multiValueHeaders: {},
    queryStringParameters,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: body === '' ? null : body,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: undefined,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: method,
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? null } as APIGatewayProxyEvent['requestContext']['identity'],
      path,
      stage: 'local',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: route.path,
      resourcePath: route.path,
    },
  };
}
